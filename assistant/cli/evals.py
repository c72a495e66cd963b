"""``assistant eval``: run datasets against targets, list and show runs, compare, gate, report.

The harness lives in the ``evals`` package, imported only when one of these commands runs.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from assistant.cli.common import (
    EXIT_CONFIG,
    EXIT_ERROR,
    app,
    err,
    fail,
    out,
    plain_row,
    settings_from_environment,
)

if TYPE_CHECKING:
    from evals.store import EvalStore

eval_app = typer.Typer(
    help="Evaluate models and agents on datasets; every run is stored in DuckDB."
)
app.add_typer(eval_app, name="eval")

DbOption = Annotated[
    Path | None, typer.Option("--db", help="The eval store (default: evals.db setting).")
]


def _store(db: Path | None, *, read_only: bool = True) -> EvalStore:
    from evals.store import EvalStore, StoreError

    path = db or settings_from_environment().evals.db
    try:
        return EvalStore(path, read_only=read_only)
    except StoreError as exc:
        fail(str(exc), EXIT_ERROR)


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return "—"
    return format(value, spec)


def _leaderboard_table(frame: Any, title: str, board: Any = None) -> Table:
    from evals.stats import leaderboard

    if board is None:
        board = leaderboard(frame)
    several_runs = board["run_id"].nunique() > 1
    table = Table(title=title, title_justify="left")
    columns = ["run"] if several_runs else []
    columns += ["target", "scorer", "mean", "95% CI", "cases", "errors", "p50 s", "cost $"]
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("run", "target", "scorer") else "right"
        )
    for row in board.to_dict("records"):
        cells = [str(row["run_id"])] if several_runs else []
        cells += [
            str(row["target"]),
            str(row["scorer"]),
            _fmt(row["mean"]),
            _interval(row["ci_low"], row["ci_high"]),
            str(row["n_cases"]),
            str(row["n_errors"]),
            _fmt(row["latency_p50_s"], ".2f"),
            _fmt(row["cost_usd"], ".4f"),
        ]
        plain_row(table, *cells)
    return table


@eval_app.command("run")
def run(
    dataset: Annotated[
        str, typer.Argument(help="A dataset file (.jsonl .json .yaml .csv) or bundled name.")
    ],
    target: Annotated[
        list[str],
        typer.Option(
            "--target", "-t", help="Model ref, chain, agent profile or py:module:function."
        ),
    ],
    repeat: Annotated[
        int, typer.Option(help="Run every case this many times (variance).", min=1)
    ] = 1,
    resume: Annotated[str | None, typer.Option(help="Continue an interrupted run by id.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Only cases with this tag (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N cases.", min=1)] = None,
    db: DbOption = None,
) -> None:
    """Run a dataset against one or more targets; Ctrl-C stops cleanly (resume with --resume)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from assistant.agent import build_assistant
    from assistant.errors import AssistantError
    from evals.api import run_options, scorer_factory
    from evals.dataset import DatasetError, load_dataset
    from evals.runner import EvalError, run_eval
    from evals.targets import resolve_target

    settings = settings_from_environment()
    try:
        data = load_dataset(dataset)
    except DatasetError as exc:
        fail(str(exc), EXIT_CONFIG)
    if tag:
        data = data.filter(tags=tag)
    if limit:
        data = data.head(limit)
    if not len(data):
        fail("no case to run (check --tag and --limit)", EXIT_CONFIG)
    assistant = build_assistant(settings)
    try:  # before the store and the progress bar: a wrong target is one line, no file created
        targets = [resolve_target(spec, assistant) for spec in target]
    except AssistantError as exc:
        assistant.close()
        fail(str(exc), EXIT_CONFIG)
    store = _store(db, read_only=False)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("errors {task.fields[errors]}"),
        TimeRemainingColumn(),
        console=err,
    )
    task = progress.add_task("eval", total=None, errors=0)
    errors = 0

    def started(run: Any, units: int) -> None:
        progress.update(task, description=f"{run.run_id} {data.name}", total=units)
        if run.n_results:
            err.print(f"[dim]resuming {run.run_id}: {run.n_results} results kept[/]")

    def advanced(result: Any) -> None:
        nonlocal errors
        errors += result.output.error is not None
        progress.update(task, advance=1, errors=errors)

    async def main() -> Any:
        try:
            return await run_eval(
                data,
                targets,
                store=store,
                assistant=assistant,
                make_scorer=scorer_factory(assistant),
                options=run_options(settings, repeat),
                resume=resume,
                on_result=advanced,
                on_start=started,
            )
        finally:
            await assistant.aclose()

    try:
        with progress:
            summary = asyncio.run(main())
    except KeyboardInterrupt:
        run_ids = [run.run_id for run in store.runs() if run.status == "interrupted"]
        store.close()
        hint = f": resume with --resume {run_ids[0]}" if run_ids else ""
        err.print(f"[yellow]interrupted{hint}[/]")
        raise typer.Exit(130) from None
    except EvalError as exc:
        store.close()
        fail(str(exc), EXIT_CONFIG)
    try:
        out.print(_leaderboard_table(store.frame([summary.run_id]), f"Run {summary.run_id}"))
    finally:
        store.close()
    err.print(
        f"[dim]{summary.done} results in {summary.seconds:.1f}s, {summary.errors} target errors; "
        f"stored in {store.path}[/]"
    )


@eval_app.command("list")
def list_runs(db: DbOption = None) -> None:
    """List the stored runs, newest first."""
    with _store(db) as store:
        table = Table(title=f"Runs in {store.path}", title_justify="left")
        for column in (
            "run",
            "status",
            "dataset",
            "targets",
            "repeats",
            "results",
            "started",
            "commit",
        ):
            table.add_column(column)
        for run in store.runs():
            plain_row(
                table,
                run.run_id,
                run.status,
                run.dataset_name,
                ", ".join(run.targets),
                str(run.repeats),
                f"{run.n_results}/{run.n_cases * len(run.targets) * run.repeats}",
                f"{run.created_at:%Y-%m-%d %H:%M}",
                (run.git_commit or "")[:10],
            )
        out.print(table)


@eval_app.command("show")
def show(
    run: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    by_tag: Annotated[
        bool,
        typer.Option("--by-tag/--no-by-tag", help="Mean score with its 95% CI per tag and target."),
    ] = True,
    failures: Annotated[
        int,
        typer.Option(
            help="List at most this many failed cases with their reasons (0: none).", min=0
        ),
    ] = 50,
    db: DbOption = None,
) -> None:
    """Show one run: leaderboard with 95% CIs, results by tag, errors, why cases failed.

    After the run's record and leaderboard: per tag (a dataset's categories) and target, the
    mean score with its interval; the most frequent target and scorer errors; then one line
    per failed case and target (a score below the pass mark) with the scorer's reason.
    """
    from evals.stats import OVERALL, leaderboard
    from evals.store import StoreError

    with _store(db) as store:
        try:
            info = store.run(run)
        except StoreError as exc:
            fail(str(exc), EXIT_CONFIG)
        err.print(
            f"[bold]{info.run_id}[/] {info.status} · dataset {info.dataset_name} "
            f"({info.dataset_hash[:12]}) · {info.n_results} results · "
            f"commit {(info.git_commit or '?')[:10]}"
        )
        frame = store.frame([info.run_id])
    board = leaderboard(frame)
    out.print(_leaderboard_table(frame, f"Run {info.run_id}", board))
    ranked = [str(t) for t in board[board["scorer"] == OVERALL]["target"]]
    tags = _by_tag_table(frame, ranked) if by_tag else None
    for table in (tags, _error_table(frame), _failures_table(frame, failures)):
        if table is not None:
            out.print(table)


def _by_tag_table(frame: Any, ranked: list[str]) -> Table | None:
    """Per tag, then target (in leaderboard order): mean with 95% CI; ``None`` without tags."""
    from evals.stats import by_tag

    rows = by_tag(frame, by=("target",))
    if rows.empty:
        return None
    rank = {target: i for i, target in enumerate(ranked)}
    rows = rows.assign(_rank=rows["target"].map(lambda t: rank.get(str(t), len(rank))))
    rows = rows.sort_values(["tag", "_rank"], kind="stable")
    table = Table(title="By tag (overall score per case)", title_justify="left")
    for column in ("tag", "target", "mean", "95% CI", "cases", "errors"):
        table.add_column(column, justify="left" if column in ("tag", "target") else "right")
    records = rows.to_dict("records")
    for i, row in enumerate(records):
        last_of_tag = i + 1 == len(records) or records[i + 1]["tag"] != row["tag"]
        plain_row(
            table,
            str(row["tag"]),
            str(row["target"]),
            _fmt(row["mean"]),
            _interval(row["ci_low"], row["ci_high"]),
            str(row["n_cases"]),
            str(row["n_errors"]),
            end_section=last_of_tag and len(rank) > 1,
        )
    return table


def _interval(low: Any, high: Any) -> str:
    if low is None or high is None or low != low or high != high:  # None or NaN
        return "—"
    return f"{low:.2f}-{high:.2f}"


def _error_table(frame: Any, limit: int = 10) -> Table | None:
    """The most frequent failures of a run: target errors, then scorer errors."""
    targets = frame[frame["error"].notna()].drop_duplicates(["case_id", "target", "repeat"])
    rows = [("(target)", str(e)) for e in targets["error"]]
    rows += [
        (str(scorer), str(e))
        for scorer, e in frame[frame["score_error"].notna()][["scorer", "score_error"]].itertuples(
            index=False
        )
    ]
    if not rows:
        return None
    counts = Counter((source, " ".join(message.split())[:160]) for source, message in rows)
    table = Table(title="Why results failed (most frequent first)", title_justify="left")
    table.add_column("from")
    table.add_column("times", justify="right")
    table.add_column("error")
    for (source, message), times in counts.most_common(limit):
        plain_row(table, source, str(times), message)
    return table


def _one_line(text: Any, limit: int = 160) -> str:
    """``text`` on one line, cut to ``limit`` characters (empty when missing)."""
    if text is None or (isinstance(text, float) and text != text):  # None or NaN
        return ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _failed_cases(frame: Any) -> list[tuple[str, str, str, str]]:
    """(case, target, scorers, reason) per failed case and target, sorted by case then target.

    A scorer failed a case when its score (repeats averaged) is below the pass threshold;
    errored scores (no value) are not failures. The reason is the worst repeat's.
    """
    from evals.stats import PASS_THRESHOLD

    scored = frame[frame["scorer"].notna() & frame["value"].notna()]
    if "reason" not in scored.columns:
        scored = scored.assign(reason=None)
    keys = ["case_id", "target", "scorer"]
    means = scored.groupby(keys, sort=False)["value"].transform("mean")
    failed = scored[means < PASS_THRESHOLD].sort_values([*keys, "value", "repeat"], kind="stable")
    worst = failed.drop_duplicates(keys)
    lines: list[tuple[str, str, str, str]] = []
    for (case, target), part in worst.groupby(["case_id", "target"], sort=True):
        scorers = [str(s) for s in part["scorer"]]
        reasons = [_one_line(r) or "(no reason given)" for r in part["reason"]]
        reason = (
            reasons[0]
            if len(reasons) == 1
            else " · ".join(f"{s}: {r}" for s, r in zip(scorers, reasons, strict=True))
        )
        lines.append((str(case), str(target), ", ".join(scorers), _one_line(reason)))
    return lines


def _failures_table(frame: Any, limit: int) -> Table | None:
    """One line per failed (case, target): the scorers that failed it and why; at most ``limit``."""
    lines = _failed_cases(frame) if limit > 0 else []
    if not lines:
        return None
    more = len(lines) - limit
    table = Table(
        title=f"Failed cases ({len(lines)}: score below the pass mark, not errors)",
        title_justify="left",
        caption=f"... and {more} more (--failures N shows more)" if more > 0 else None,
        caption_justify="left",
    )
    shown = lines[:limit]
    widths = [
        min(40, max(len(column), *(len(line[i]) for line in shown)))
        for i, column in enumerate(("case", "target", "scorer"))
    ]
    for column, width in zip(("case", "target", "scorer"), widths, strict=True):
        table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=width)
    # one line each: the reason takes what the terminal has left (borders and padding: 13)
    room = max(20, out.width - sum(widths) - 13)
    table.add_column("reason", no_wrap=True, overflow="ellipsis", max_width=room)
    for line in shown:
        plain_row(table, *line)
    return table


@eval_app.command("compare")
def compare_cmd(
    a: Annotated[str, typer.Argument(help="A run id, or a target (within --run).")],
    b: Annotated[str, typer.Argument(help="The other run id or target.")],
    run: Annotated[
        str | None, typer.Option(help="The run holding both targets (default: the latest).")
    ] = None,
    scorer: Annotated[
        str | None, typer.Option(help="Compare on one scorer (default: the mean of all).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Paired comparison of two targets or runs: difference per case, bootstrap 95% CI."""
    from evals.stats import Selector, compare

    with _store(db) as store:
        runs = store.runs()
        ids = {info.run_id for info in runs}
        try:
            if (
                any(x.startswith(a) for x in ids)
                and any(x.startswith(b) for x in ids)
                and run is None
            ):
                run_a, run_b = store.run(a), store.run(b)
                frame = store.frame([run_a.run_id, run_b.run_id])
                sel_a, sel_b = Selector(run_id=run_a.run_id), Selector(run_id=run_b.run_id)
            else:
                holder = (
                    store.run(run)
                    if run
                    else next((r for r in runs if {a, b} <= set(r.targets)), None)
                )
                if holder is None:
                    fail(f"no run has both targets '{a}' and '{b}': give --run", EXIT_CONFIG)
                frame = store.frame([holder.run_id])
                sel_a, sel_b = (
                    Selector(run_id=holder.run_id, target=a),
                    Selector(run_id=holder.run_id, target=b),
                )
            result = compare(frame, sel_a, sel_b, scorer=scorer)
        except ValueError as exc:
            fail(str(exc), EXIT_CONFIG)
    out.print(result.summary())
    table = Table(title="Cases, worst change first", title_justify="left")
    for column in ("case", "a", "b", "diff"):
        table.add_column(column)
    for row in result.cases.head(15).to_dict("records"):
        plain_row(
            table,
            str(row["case_id"]),
            _fmt(row["score_a"]),
            _fmt(row["score_b"]),
            _fmt(row["diff"], "+.3f"),
        )
    out.print(table)
    ops_a, ops_b = result.ops_a, result.ops_b
    out.print(
        f"latency p50 {_fmt(ops_a.latency_p50_s, '.2f')}s vs {_fmt(ops_b.latency_p50_s, '.2f')}s · "
        f"cost {_fmt(ops_a.cost_usd, '.4f')} vs {_fmt(ops_b.cost_usd, '.4f')} USD"
    )


@eval_app.command("gate")
def gate_cmd(
    baseline: Annotated[str, typer.Option(help="The baseline run id.")],
    candidate: Annotated[
        str | None, typer.Option(help="The run to check (default: the latest).")
    ] = None,
    max_drop: Annotated[float, typer.Option(help="Tolerated drop of a mean score (0..1).")] = 0.0,
    scorer: Annotated[str | None, typer.Option(help="Gate on one scorer only.")] = None,
    db: DbOption = None,
) -> None:
    """Exit non-zero when a score dropped beyond --max-drop, significantly (regression gate)."""
    from evals.stats import gate

    with _store(db) as store:
        base = store.run(baseline)
        cand = (
            store.run(candidate)
            if candidate
            else next((r for r in store.runs() if r.run_id != base.run_id), None)
        )
        if cand is None:
            fail(
                f"no run besides the baseline {base.run_id} to check: give --candidate", EXIT_CONFIG
            )
        result = gate(
            store.frame([base.run_id]), store.frame([cand.run_id]), max_drop=max_drop, scorer=scorer
        )
    for line in result.lines:
        # bandit reads "pass" as a password key here
        colours = {"pass": "green", "warn": "yellow", "fail": "red"}  # nosec B105
        colour = colours.get(line.status, "white")
        out.print(f"[{colour}]{line.status:4}[/] {line.target} {line.scorer}: {line.reason}")
    out.print(result.message)
    raise typer.Exit(result.exit_code)


@eval_app.command("report")
def report(
    run: Annotated[str, typer.Argument(help="Run id.")],
    html: Annotated[Path, typer.Option("--html", help="Write a self-contained HTML report here.")],
    db: DbOption = None,
) -> None:
    """Write a self-contained HTML report (leaderboard, charts, per-case table)."""
    from dataclasses import asdict

    from evals.report import render_html

    with _store(db) as store:
        info = store.run(run)
        page = render_html(
            store.frame([info.run_id]), title=f"Eval {info.dataset_name}", runs_meta=[asdict(info)]
        )
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(page, encoding="utf-8")
    out.print(f"wrote {html} ({len(page) // 1024} KB)")


@eval_app.command("export")
def export(
    run: Annotated[str, typer.Argument(help="Run id.")],
    parquet: Annotated[Path | None, typer.Option(help="Write Parquet here.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write CSV here.")] = None,
    db: DbOption = None,
) -> None:
    """Export a run's results and scores (one row per score) to Parquet or CSV."""
    if parquet is None and csv is None:
        fail("give --parquet FILE or --csv FILE", EXIT_CONFIG)
    with _store(db) as store:
        for path in (parquet, csv):
            if path is not None:
                out.print(f"wrote {store.export(run, path)}")
