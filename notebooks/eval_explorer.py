"""Eval explorer: the runs in the DuckDB store, leaderboards with intervals (overall and per
tag), charts, per-case diffs.

Open it with ``make notebooks``. The store is opened read-only, so a running eval can keep
writing other files; a small run can be launched from here. Run as a script
(``uv run python notebooks/eval_explorer.py``) it launches a small run when the store is empty,
then explores it, which is how CI checks it.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Eval explorer")

with app.setup:
    from pathlib import Path

    import altair as alt
    import marimo as mo
    import pandas as pd

    from assistant import build_assistant, load_settings
    from evals import (
        Selector,
        StoreError,
        by_tag,
        compare,
        evaluate,
        leaderboard,
        list_datasets,
        open_store,
    )

    OVERALL = "(overall)"


@app.function
def runs_frame(runs: list) -> pd.DataFrame:
    """The runs, newest first, one row each."""
    return pd.DataFrame(
        [
            {
                "run": run.run_id,
                "status": run.status,
                "dataset": run.dataset_name,
                "targets": ", ".join(run.targets),
                "results": run.n_results,
                "repeats": run.repeats,
                "started": run.created_at,
                "commit": (run.git_commit or "")[:10],
            }
            for run in runs
        ],
        columns=["run", "status", "dataset", "targets", "results", "repeats", "started", "commit"],
    )


@app.function
def with_tags(frame: pd.DataFrame, tags: list[str]) -> pd.DataFrame:
    """The rows of cases carrying any of ``tags`` (all rows when none is given)."""
    if not tags:
        return frame
    wanted = set(tags)
    return frame[frame["tags"].map(lambda case_tags: bool(wanted.intersection(case_tags)))]


@app.function
def target_costs(frame: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    """Per (run, target): overall mean score, p50 latency and mean cost per case."""
    per_result = frame.drop_duplicates(["run_id", "case_id", "target", "repeat"])
    spend = (
        per_result.groupby(["run_id", "target"])
        .agg(latency_p50_s=("latency_s", "median"), cost_per_case=("cost_usd", "mean"))
        .reset_index()
    )
    overall = board[board["scorer"] == OVERALL][["run_id", "target", "mean", "ci_low", "ci_high"]]
    return overall.merge(spend, on=["run_id", "target"])


@app.function
def leaderboard_chart(board: pd.DataFrame) -> alt.Chart:
    """Mean score per (run, target) and scorer with 95% intervals."""
    data = board.assign(who=board["target"] + " · " + board["run_id"].str[-6:])
    base = alt.Chart(data).encode(
        y=alt.Y("who:N", title=None),
        color=alt.Color("scorer:N", legend=alt.Legend(orient="bottom")),
    )
    points = base.mark_point(filled=True, size=80).encode(
        x=alt.X("mean:Q", scale=alt.Scale(domain=[0, 1]), title="mean score (95% CI)"),
        yOffset="scorer:N",
        tooltip=["target", "run_id", "scorer", "mean", "ci_low", "ci_high", "n_cases"],
    )
    bars = base.mark_rule().encode(x="ci_low:Q", x2="ci_high:Q", yOffset="scorer:N")
    return (bars + points).properties(width="container")


@app.function
def tag_chart(tags_board: pd.DataFrame) -> alt.Chart:
    """Mean overall score per tag and (run, target) with 95% intervals."""
    data = tags_board.assign(who=tags_board["target"] + " · " + tags_board["run_id"].str[-6:])
    base = alt.Chart(data).encode(
        y=alt.Y("tag:N", title=None),
        color=alt.Color("who:N", title=None, legend=alt.Legend(orient="bottom")),
    )
    points = base.mark_point(filled=True, size=80).encode(
        x=alt.X("mean:Q", scale=alt.Scale(domain=[0, 1]), title="mean score (95% CI)"),
        yOffset="who:N",
        tooltip=["tag", "target", "run_id", "mean", "ci_low", "ci_high", "n_cases", "n_errors"],
    )
    bars = base.mark_rule().encode(x="ci_low:Q", x2="ci_high:Q", yOffset="who:N")
    return (bars + points).properties(width="container")


@app.function
def tradeoff_charts(costs: pd.DataFrame) -> alt.HConcatChart:
    """Score against latency and against cost, one point per (run, target)."""
    base = alt.Chart(costs).encode(
        y=alt.Y("mean:Q", scale=alt.Scale(domain=[0, 1]), title="mean score"),
        color="target:N",
        tooltip=["target", "run_id", "mean", "latency_p50_s", "cost_per_case"],
    )
    latency = base.mark_circle(size=120).encode(x=alt.X("latency_p50_s:Q", title="p50 latency (s)"))
    cost = base.mark_circle(size=120).encode(x=alt.X("cost_per_case:Q", title="cost per case ($)"))
    return alt.hconcat(
        latency.properties(title="score vs latency"), cost.properties(title="score vs cost")
    )


@app.function
def case_diff(frame: pd.DataFrame, a: dict, b: dict) -> pd.DataFrame:
    """Side by side per case: prompt, both answers, both mean scores and the difference."""

    def side(selector: dict) -> pd.DataFrame:
        rows = frame
        for key, value in selector.items():
            rows = rows[rows[key] == value]
        return rows.groupby("case_id").agg(
            prompt=("prompt", "first"),
            output=("output", "first"),
            score=("value", "mean"),
            latency_s=("latency_s", "mean"),
        )

    joined = side(a).merge(side(b), on="case_id", suffixes=(" A", " B"))
    joined["prompt"] = joined.pop("prompt A")
    joined = joined.drop(columns=["prompt B"])
    joined["B - A"] = joined["score B"] - joined["score A"]
    order = [
        "prompt",
        "output A",
        "output B",
        "score A",
        "score B",
        "B - A",
        "latency_s A",
        "latency_s B",
    ]
    return joined.reset_index()[["case_id", *order]].sort_values("B - A")


@app.cell(hide_code=True)
def _():
    mo.md("""
    # Eval explorer
    Every run stored in the eval store (DuckDB, read-only here): leaderboards with 95%
    confidence intervals, overall and per tag (a dataset's categories), score against latency
    and cost, and case-by-case differences between two targets or two runs.
    """)
    return


@app.cell
def _():
    settings = load_settings()
    return (settings,)


@app.cell
def _(settings):
    db_input = mo.ui.text(str(settings.evals.db), label="Eval store", full_width=True)
    db_input
    return (db_input,)


@app.cell
def _(db_input):
    db_path = Path(db_input.value)
    return (db_path,)


@app.cell
def _():
    dataset_picker = mo.ui.dropdown(list_datasets(), value="factual_qa", label="Dataset")
    launch_targets = mo.ui.text("local:smollm2, assistant", label="Targets (comma-separated)")
    launch_cases = mo.ui.slider(1, 20, value=3, label="cases")
    launch_button = mo.ui.run_button(label="Launch a run")
    mo.accordion(
        {
            "Launch a small run": mo.hstack(
                [dataset_picker, launch_targets, launch_cases, launch_button], justify="start"
            )
        }
    )
    return dataset_picker, launch_button, launch_cases, launch_targets


@app.cell
async def _(dataset_picker, db_path, launch_button, launch_cases, launch_targets, settings):
    # A script run (CI) on an empty store launches one, so there is something to explore.
    empty_store = not db_path.exists()
    launch = launch_button.value or (mo.app_meta().mode == "script" and empty_store)
    launched = None
    if launch:
        _assistant = build_assistant(settings)
        try:
            with mo.status.spinner(title="Running..."):
                launched = await evaluate(
                    dataset_picker.value,
                    [t.strip() for t in launch_targets.value.split(",") if t.strip()],
                    limit=int(launch_cases.value),
                    db=db_path,
                    assistant=_assistant,
                )
        finally:
            await _assistant.aclose()
    mo.md(f"Launched run `{launched.run_id}`.") if launched else None
    return (launched,)


@app.cell
def _(db_path, launched):
    # Re-read after a launch; read-only, so other processes may read the store too.
    try:
        with open_store(db_path) as _store:
            runs = runs_frame(_store.runs())
            frame = _store.frame()
        store_error = None
    except StoreError as exc:
        runs, frame, store_error = runs_frame([]), None, str(exc)
    _ = launched
    mo.callout(mo.md(store_error), kind="warn") if store_error else mo.vstack(
        [mo.md(f"## Runs ({len(runs)})"), mo.ui.table(runs, selection=None, page_size=5)]
    )
    return frame, runs


@app.cell
def _(frame, runs):
    mo.stop(frame is None or runs.empty, mo.md("*No run yet: launch one above.*"))
    run_picker = mo.ui.multiselect(
        runs["run"].tolist(), value=runs["run"].tolist()[:1], label="Runs"
    )
    all_tags = sorted({tag for tags in frame["tags"] for tag in tags})
    tag_picker = mo.ui.multiselect(all_tags, label="Only cases tagged")
    mo.hstack([run_picker, tag_picker], justify="start")
    return run_picker, tag_picker


@app.cell
def _(frame, run_picker, tag_picker):
    selected = with_tags(frame[frame["run_id"].isin(run_picker.value)], list(tag_picker.value))
    mo.stop(selected.empty, mo.md("*No result in this selection.*"))
    board = leaderboard(selected)
    costs = target_costs(selected, board)
    mo.vstack(
        [
            mo.md("## Leaderboard"),
            leaderboard_chart(board),
            mo.ui.table(
                board[
                    [
                        "run_id",
                        "target",
                        "scorer",
                        "mean",
                        "ci_low",
                        "ci_high",
                        "n_cases",
                        "n_errors",
                    ]
                ].round(3),
                selection=None,
                page_size=10,
            ),
            mo.md("## Score against latency and cost"),
            tradeoff_charts(costs),
        ]
    )
    return board, costs, selected


@app.cell
def _(selected, tag_picker):
    # Per category (tag): a case counts in each of its tags; only the picked tags, if any.
    tags_board = by_tag(selected, tags=list(tag_picker.value) or None)
    mo.vstack(
        [
            mo.md("## By tag"),
            mo.md("*No tagged case in this selection.*")
            if tags_board.empty
            else tag_chart(tags_board),
            mo.ui.table(
                tags_board.sort_values("tag", kind="stable")[
                    ["tag", "run_id", "target", "mean", "ci_low", "ci_high", "n_cases", "n_errors"]
                ].round(3),
                selection=None,
                page_size=10,
            ),
        ]
    )
    return (tags_board,)


@app.cell
def _(selected):
    sides = sorted(
        {
            f"{run} · {target}"
            for run, target in zip(selected["run_id"], selected["target"], strict=True)
        }
    )
    side_a = mo.ui.dropdown(sides, value=sides[0], label="A")
    side_b = mo.ui.dropdown(sides, value=sides[-1], label="B")
    scorer_picker = mo.ui.dropdown(
        ["(mean of all)", *sorted(selected["scorer"].dropna().unique())],
        value="(mean of all)",
        label="Scorer",
    )
    mo.vstack(
        [mo.md("## Case by case"), mo.hstack([side_a, side_b, scorer_picker], justify="start")]
    )
    return scorer_picker, side_a, side_b


@app.cell
def _(scorer_picker, selected, side_a, side_b):
    def _selector(side: str) -> dict:
        run_id, target = side.split(" · ", 1)
        return {"run_id": run_id, "target": target}

    scorer = None if scorer_picker.value == "(mean of all)" else scorer_picker.value
    rows = selected if scorer is None else selected[selected["scorer"] == scorer]
    diff = case_diff(rows, _selector(side_a.value), _selector(side_b.value))
    verdict = None
    if side_a.value != side_b.value and len(diff) >= 2:
        verdict = compare(
            selected,
            Selector(**_selector(side_a.value)),
            Selector(**_selector(side_b.value)),
            scorer=scorer,
        )
    mo.vstack(
        [
            mo.callout(mo.md(str(verdict.summary())), kind="info")
            if verdict
            else mo.md(
                "*Pick two different sides with at least two shared cases for a significance test.*"
            ),
            mo.ui.table(diff, selection=None, page_size=10),
        ]
    )
    return diff, verdict


if __name__ == "__main__":
    app.run()
