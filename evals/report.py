"""A self-contained HTML report of eval results.

:func:`render_html` turns a result frame (see :mod:`evals.stats`) into one HTML page with no
external asset: inline CSS, inline SVG charts, no script and no link. Every text that comes from
results (outputs, errors, ids, tags, metadata) is HTML-escaped, since model outputs can contain
markup such as ``<script>``. Outputs are whitespace-collapsed and truncated, so 1,000 cases on a
few targets stay around a megabyte.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from evals.stats import (
    OVERALL,
    PASS_THRESHOLD,
    Selector,
    as_frame,
    by_tag,
    compare,
    leaderboard,
)

__all__ = ["render_html"]

_DASH = "\u2013"  # en dash
_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
_WIDTH = 720

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 6px;
vertical-align:top;text-align:left}th{background:#f4f4f4}td.n{text-align:right;
font-variant-numeric:tabular-nums}tr.ov td{font-weight:600;background:#fafafa}
.muted{color:#777}.err{background:#fde2e2;color:#8a1c1c}.sig{color:#1b7f3b;font-weight:600}
.neg{color:#b3261e;font-weight:600}svg text{font:12px system-ui,sans-serif;fill:#333}
.o{max-width:360px;overflow-wrap:anywhere;font-size:12px}
.s0{background:#f8d0cc}.s1{background:#fbe3c8}.s2{background:#fdf3c4}.s3{background:#e3f1cf}
.s4{background:#c9e8c4}.sw{display:inline-block;width:10px;height:10px;margin-right:4px}
.legend span{margin-right:14px;white-space:nowrap}
"""


def _e(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _num(value: Any, digits: int = 3) -> str:
    return _DASH if _missing(value) else f"{float(value):.{digits}f}"


def _clip(text: Any, limit: int) -> str:
    """Whitespace-collapsed text cut to ``limit`` characters (before escaping)."""
    if _missing(text):
        return ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)] + "…"


@dataclass(frozen=True, slots=True)
class _Group:
    run_id: str
    target: str
    label: str
    color: str


def _groups(board: Any, multi_run: bool) -> list[_Group]:
    overall = board[board["scorer"] == OVERALL]
    return [
        _Group(
            str(row.run_id),
            str(row.target),
            f"{row.run_id} · {row.target}" if multi_run else str(row.target),
            _PALETTE[i % len(_PALETTE)],
        )
        for i, row in enumerate(overall.itertuples(index=False))
    ]


# --------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------


def _nice_max(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    base = 10.0 ** math.floor(math.log10(value))
    return next(m * base for m in (1, 2, 4, 5, 10) if m * base >= value)


def _svg_hbars(
    rows: Sequence[tuple[_Group, float | None, float | None, float | None, str]],
    vmax: float,
    ticks: Sequence[float],
    tick_fmt: str,
) -> str:
    """Horizontal bars: (group, value, whisker low, whisker high, value text) per row."""
    left, right, row_h, top = 230, 90, 26, 8
    plot = _WIDTH - left - right
    height = top + row_h * len(rows) + 24

    def x(v: float) -> float:
        return left + plot * max(0.0, min(v, vmax)) / vmax

    parts = [f'<svg width="{_WIDTH}" height="{height}" role="img">']
    for tick in ticks:
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{top}" x2="{x(tick):.1f}" y2="{height - 20}" '
            f'stroke="#e3e3e3"/><text x="{x(tick):.1f}" y="{height - 6}" text-anchor="middle">'
            f"{tick:{tick_fmt}}</text>"
        )
    for i, (group, value, low, high, text) in enumerate(rows):
        y = top + i * row_h
        mid = y + (row_h - 6) / 2
        parts.append(
            f'<text x="{left - 8}" y="{mid + 4:.1f}" text-anchor="end">{_e(_clip(group.label, 34))}'
            f"<title>{_e(group.label)}</title></text>"
        )
        if value is not None:
            parts.append(
                f'<rect x="{left}" y="{y}" width="{x(value) - left:.1f}" height="{row_h - 6}" '
                f'fill="{group.color}"/>'
            )
        if low is not None and high is not None:
            x1, x2 = x(low), x(high)
            parts.append(
                f'<path d="M{x1:.1f} {mid:.1f}H{x2:.1f}M{x1:.1f} {mid - 5:.1f}V{mid + 5:.1f}'
                f'M{x2:.1f} {mid - 5:.1f}V{mid + 5:.1f}" stroke="#222" fill="none"/>'
            )
        end = max(x(value or 0.0), x(high) if high is not None else 0.0)
        parts.append(f'<text x="{end + 6:.1f}" y="{mid + 4:.1f}">{_e(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_scatter(points: Sequence[tuple[_Group, float, float, float | None, float | None]]) -> str:
    """Score (y, with interval) against p50 latency (x), one point per group."""
    left, right, top, bottom, height = 56, 20, 10, 40, 320
    xmax = _nice_max(max(p[1] for p in points) * 1.1)
    pw, ph = _WIDTH - left - right, height - top - bottom

    def x(v: float) -> float:
        return left + pw * v / xmax

    def y(v: float) -> float:
        return top + ph * (1.0 - v)

    parts = [f'<svg width="{_WIDTH}" height="{height}" role="img">']
    for i in range(5):
        tick = i / 4
        parts.append(
            f'<line x1="{left}" y1="{y(tick):.1f}" x2="{_WIDTH - right}" y2="{y(tick):.1f}" '
            f'stroke="#e3e3e3"/><text x="{left - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:.2f}</text>'
        )
        xt = xmax * i / 4
        parts.append(
            f'<text x="{x(xt):.1f}" y="{height - bottom + 16}" text-anchor="middle">{xt:.3g}</text>'
        )
    parts.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        "latency p50 (s)</text>"
        f'<text x="12" y="{top + ph / 2:.1f}" transform="rotate(-90 12 {top + ph / 2:.1f})" '
        'text-anchor="middle">score</text>'
    )
    for group, latency, score, low, high in points:
        cx, cy = x(latency), y(score)
        if low is not None and high is not None:
            parts.append(
                f'<path d="M{cx:.1f} {y(low):.1f}V{y(high):.1f}" stroke="{group.color}" '
                'stroke-width="2"/>'
            )
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="{group.color}" stroke="#fff">'
            f"<title>{_e(group.label)}: score {score:.3f}, p50 {latency:.3g} s</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend(groups: Sequence[_Group]) -> str:
    items = "".join(
        f'<span><i class="sw" style="background:{g.color}"></i>{_e(g.label)}</span>' for g in groups
    )
    return f'<p class="legend">{items}</p>'


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _meta_section(runs_meta: Sequence[dict[str, Any]] | None) -> str:
    if not runs_meta:
        return '<p class="muted">No run metadata given.</p>'
    keys: list[str] = []
    for meta in runs_meta:
        keys += [k for k in meta if k not in keys]

    def cell(value: Any) -> str:
        if isinstance(value, dict | list | tuple):
            value = json.dumps(value, sort_keys=True, default=str)
        return f'<td class="o">{_e(_clip(value, 300))}</td>'

    head = "".join(f"<th>{_e(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(cell(meta.get(k)) for k in keys) + "</tr>" for meta in runs_meta
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _leaderboard_section(board: Any, labels: dict[tuple[str, str], str]) -> str:
    head = (
        "<tr><th>Target</th><th>Scorer</th><th>Mean</th><th>95% CI</th><th>Cases</th>"
        "<th>Errors</th><th>Pass rate</th><th>p50 s</th><th>p95 s</th><th>TTFT s</th>"
        "<th>Tokens</th><th>Cost $</th></tr>"
    )
    rows = []
    for r in board.itertuples(index=False):
        overall = r.scorer == OVERALL
        ci = _DASH if _missing(r.ci_low) else f"[{_num(r.ci_low)}, {_num(r.ci_high)}]"
        errors = f'<td class="n err">{r.n_errors}</td>' if r.n_errors else '<td class="n">0</td>'
        ops = (
            f'<td class="n">{_num(r.latency_p50_s, 2)}</td><td class="n">'
            f'{_num(r.latency_p95_s, 2)}</td><td class="n">{_num(r.ttft_mean_s, 2)}</td>'
            f'<td class="n">{int(r.total_tokens):,}</td><td class="n">{_num(r.cost_usd, 4)}</td>'
            if overall
            else '<td colspan="5"></td>'
        )
        rows.append(
            f"<tr{' class=ov' if overall else ''}>"
            f"<td>{_e(labels[(str(r.run_id), str(r.target))]) if overall else ''}</td>"
            f"<td>{_e(r.scorer)}</td><td class=n>{_num(r.mean)}</td><td class=n>{ci}</td>"
            f"<td class=n>{r.n_cases}</td>{errors}<td class=n>{_num(r.pass_rate)}</td>{ops}</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _tag_cell(line: Any) -> str:
    """A by-tag table cell: mean, interval and cases (errors highlighted), or a dash."""
    if line is None:
        return f'<td class="n muted">{_DASH}</td>'
    ci = "" if _missing(line.ci_low) else f" [{_num(line.ci_low)}, {_num(line.ci_high)}]"
    errors = f' <span class="neg">{line.n_errors} err</span>' if line.n_errors else ""
    return (
        f'<td class="n">{_num(line.mean)}{ci} '
        f'<span class="muted">n={line.n_cases}</span>{errors}</td>'
    )


def _by_tag_section(df: Any, groups: Sequence[_Group]) -> str:
    """Per tag: a table row (mean and interval per target) and a bar chart with whiskers."""
    lines = by_tag(df)
    if lines.empty or not groups:
        return ""
    found = {(str(r.run_id), str(r.target), str(r.tag)): r for r in lines.itertuples(index=False)}
    tags = sorted({str(tag) for tag in lines["tag"]})
    head = "<tr><th>Tag</th>" + "".join(f"<th>{_e(g.label)}</th>" for g in groups) + "</tr>"
    rows = [
        f"<tr><td>{_e(tag)}</td>"
        + "".join(_tag_cell(found.get((g.run_id, g.target, tag))) for g in groups)
        + "</tr>"
        for tag in tags
    ]
    charts = []
    for tag in tags:
        bars: list[tuple[_Group, float | None, float | None, float | None, str]] = []
        for g in groups:
            line = found.get((g.run_id, g.target, tag))
            mean = None if line is None or _missing(line.mean) else float(line.mean)
            low = None if line is None or _missing(line.ci_low) else float(line.ci_low)
            high = None if line is None or _missing(line.ci_high) else float(line.ci_high)
            bars.append((g, mean, low, high, _num(mean)))
        charts.append(f"<h3>{_e(tag)}</h3>")
        charts.append(_svg_hbars(bars, 1.0, [0, 0.25, 0.5, 0.75, 1.0], ".2f"))
    return (
        "<h2>By tag</h2><p class=muted>Per tag (a dataset's categories; a case counts in each "
        "of its tags): mean over its cases of the per-case score (repeats averaged, then mean "
        "over scorers), 95% interval, and cases scored.</p>"
        f"<table>{head}{''.join(rows)}</table>{''.join(charts)}"
    )


def _comparison_section(df: Any, groups: Sequence[_Group]) -> str:
    if len(groups) < 2:
        return ""
    base = groups[0]
    rows = []
    for other in groups[1:]:
        c = compare(
            df,
            Selector(run_id=base.run_id, target=base.target),
            Selector(run_id=other.run_id, target=other.target),
        )
        ci = _DASH if c.ci_low is None else f"[{c.ci_low:+.3f}, {c.ci_high:+.3f}]"
        klass = "sig" if c.significant and (c.diff or 0) > 0 else "neg" if c.significant else ""
        verdict = "significant" if c.significant else "not significant"
        rows.append(
            f"<tr><td>{_e(other.label)}</td><td class=n>{c.n}</td>"
            f"<td class='n {klass}'>{_num(c.diff) if c.diff is None else f'{c.diff:+.3f}'}</td>"
            f"<td class=n>{ci}</td><td class=n>{_num(c.p_value)}</td><td>{verdict}</td></tr>"
        )
    return (
        f"<h2>Paired comparison with {_e(base.label)}</h2><p class=muted>Overall score per case, "
        "other minus baseline, cases scored on both sides only; 95% percentile bootstrap "
        "interval.</p><table><tr><th>Target</th><th>Paired cases</th><th>Difference</th>"
        f"<th>95% CI</th><th>p</th><th></th></tr>{''.join(rows)}</table>"
    )


def _cases_section(
    df: Any, groups: Sequence[_Group], max_output_chars: int, max_cases: int | None
) -> str:
    keys = ["run_id", "target", "case_id"]
    scored = df[df["scorer"].notna()]
    per_scorer = scored.groupby([*keys, "scorer"], sort=False)["value"].mean()
    overall = per_scorer.groupby(level=[0, 1, 2], sort=False).mean()
    breakdown: dict[tuple[str, str, str], list[str]] = {}
    for (run, target, case, scorer), value in per_scorer.items():
        breakdown.setdefault((run, target, case), []).append(f"{scorer} {_num(value, 2)}")
    first = df.sort_values("repeat", kind="stable").drop_duplicates(keys).set_index(keys)
    errors = df[df["error"].notna()].drop_duplicates(keys).set_index(keys)["error"].to_dict()
    outputs = first["output"].to_dict()
    tags = df.drop_duplicates("case_id").set_index("case_id")["tags"].to_dict()

    case_ids = sorted(tags, key=str)
    note = ""
    if max_cases is not None and len(case_ids) > max_cases:
        note = f'<p class="muted">First {max_cases} of {len(case_ids)} cases.</p>'
        case_ids = case_ids[:max_cases]
    head = "<tr><th>Case</th><th>Tags</th>" + "".join(
        f'<th colspan="2">{_e(g.label)}</th>' for g in groups
    )
    rows = [head + "</tr>"]
    for case in case_ids:
        cells = [f"<tr><td>{_e(case)}</td><td>{_e(', '.join(tags[case]))}</td>"]
        for g in groups:
            key = (g.run_id, g.target, case)
            if key not in outputs:
                cells.append('<td colspan="2" class="muted">' + _DASH + "</td>")
                continue
            value = overall.get(key)
            parts = breakdown.get(key, [])
            title = f' title="{_e(" · ".join(parts))}"' if len(parts) > 1 else ""
            band = "" if _missing(value) else f" s{min(4, int(float(value) * 5))}"
            error = errors.get(key)
            text = _e(_clip(outputs[key], max_output_chars))
            if error is not None:
                text = f"<b>error:</b> {_e(_clip(error, max_output_chars))}<br>{text}"
            cells.append(
                f'<td class="n{band}"{title}>{_num(value, 2)}</td>'
                f'<td class="o{" err" if error is not None else ""}">{text}</td>'
            )
        rows.append("".join(cells) + "</tr>")
    return f"{note}<table>{''.join(rows)}</table>"


def render_html(
    frame: Any,
    *,
    title: str = "Eval report",
    runs_meta: list[dict[str, Any]] | None = None,
    max_output_chars: int = 160,
    max_cases: int | None = None,
) -> str:
    """One self-contained HTML page for a result frame (rows, DataFrame or CaseResults).

    Sections: run metadata (each dict of ``runs_meta`` is a row, e.g. ``run_id``, ``dataset``,
    ``dataset_hash``, ``git_commit``, ``started_at``, ``finished_at``), the leaderboard with 95%
    intervals, charts (mean overall score with interval per target; score against p50 latency;
    total cost), results by tag when cases carry tags (per tag and target the mean with its
    interval, in a table and a bar chart per tag), a paired comparison of every target with the
    first (the best) when there are several, and a per-case table: tags, then per target the
    score (repeats averaged; hover for per-scorer scores) and the first repeat's output cut to
    ``max_output_chars``, errors highlighted. ``max_cases`` caps the case table.
    """
    df = as_frame(frame)
    board = leaderboard(df)
    groups = _groups(board, df["run_id"].nunique() > 1)
    labels = {(g.run_id, g.target): g.label for g in groups}
    overall = {
        (str(r.run_id), str(r.target)): r
        for r in board[board["scorer"] == OVERALL].itertuples(index=False)
    }

    def opt(value: Any) -> float | None:
        return None if _missing(value) else float(value)

    bars = []
    points = []
    costs = []
    for g in groups:
        r = overall[(g.run_id, g.target)]
        mean, low, high = opt(r.mean), opt(r.ci_low), opt(r.ci_high)
        bars.append((g, mean, low, high, _num(mean)))
        if mean is not None and opt(r.latency_p50_s) is not None:
            points.append((g, float(r.latency_p50_s), mean, low, high))
        cost = opt(r.cost_usd)
        costs.append((g, cost, None, None, _DASH if cost is None else f"${cost:.4f}"))

    charts = ["<h2>Mean score per target</h2>"]
    if groups:
        charts.append(_svg_hbars(bars, 1.0, [0, 0.25, 0.5, 0.75, 1.0], ".2f"))
        charts.append(
            f'<p class="muted">Bars: mean over cases of the per-case score (repeats averaged, '
            f"then mean over scorers); whiskers: 95% interval. A score passes at "
            f"{PASS_THRESHOLD:g}.</p>"
        )
    charts.append("<h2>Score against latency</h2>")
    charts.append(
        _svg_scatter(points) + _legend(groups) if points else "<p class=muted>No latency.</p>"
    )
    charts.append("<h2>Cost per target</h2>")
    cost_max = max((c[1] for c in costs if c[1] is not None), default=0.0)
    if cost_max > 0:
        top = _nice_max(cost_max)
        charts.append(_svg_hbars(costs, top, [top * i / 4 for i in range(5)], ".3g"))
    else:
        charts.append("<p class=muted>No cost reported (local targets cost nothing).</p>")

    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class=muted>{len(groups)} targets · {df['case_id'].nunique()} cases · "
        f"{len(df)} score rows</p>",
        "<h2>Runs</h2>",
        _meta_section(runs_meta),
        "<h2>Leaderboard</h2>",
        _leaderboard_section(board, labels),
        *charts,
        _by_tag_section(df, groups),
        _comparison_section(df, groups),
        "<h2>Cases</h2>",
        _cases_section(df, groups, max_output_chars, max_cases),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
