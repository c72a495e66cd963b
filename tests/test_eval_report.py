"""The HTML report: content, escaping of hostile text, no external assets, size."""

from __future__ import annotations

import re
import time
from typing import Any

from evals.report import render_html
from evals.types import CaseResult, Score, TargetOutput

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)><a href="javascript:1">'


def row(case: str, target: str, value: float | None, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "run_id": "r1",
        "case_id": case,
        "target": target,
        "repeat": 0,
        "scorer": "exact",
        "value": value,
        "error": None,
        "latency_s": 0.5,
        "ttft_s": 0.1,
        "prompt_tokens": 12,
        "completion_tokens": 7,
        "cost_usd": None,
        "tags": ["math"],
        "output": f"answer for {case}",
    }
    base.update(extra)
    return base


def sample() -> list[dict[str, Any]]:
    rows = [row(f"c{i}", "local:smollm2", 1.0 if i < 8 else 0.0) for i in range(10)]
    rows += [
        row(f"c{i}", "openai:gpt-4o-mini", 1.0, latency_s=1.5, cost_usd=0.002) for i in range(10)
    ]
    return rows


def test_report_has_targets_numbers_and_charts() -> None:
    page = render_html(
        sample(),
        title="Nightly",
        runs_meta=[{"run_id": "r1", "dataset": "arith", "git_commit": "abc1234"}],
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Nightly</title>" in page
    assert "local:smollm2" in page and "openai:gpt-4o-mini" in page
    assert "0.800" in page  # smollm2's mean
    assert "[0.490, 0.943]" in page  # its Wilson interval
    assert "1.000" in page
    assert page.count("<svg") == 4  # score bars, score vs latency, cost, the one tag (math)
    assert "$0.0200" in page  # total cost of the paid target
    assert "abc1234" in page and "arith" in page
    assert "Paired comparison" in page
    assert "answer for c3" in page


def test_by_tag_section_has_a_row_and_a_chart_per_tag() -> None:
    rows = sample()
    for r in rows:  # c0-c4 also "easy": smollm2 passes all five (c8, c9 fail, not easy)
        if r["case_id"] in {f"c{i}" for i in range(5)}:
            r["tags"] = ["math", "easy"]
    page = render_html(rows)
    section = page.split("<h2>By tag</h2>", 1)[1].split("<h2>", 1)[0]
    table = section.split("</table>", 1)[0]
    assert table.index("<td>easy</td>") < table.index("<td>math</td>")
    math_row = table.split("<td>math</td>", 1)[1].split("</tr>", 1)[0]
    assert "0.800 [0.490, 0.943]" in math_row and "n=10" in math_row  # smollm2: 8 of 10
    easy_row = table.split("<td>easy</td>", 1)[1].split("</tr>", 1)[0]
    assert "1.000 [0.566, 1.000]" in easy_row and "n=5" in easy_row  # Wilson for 5 of 5
    charts = section.split("</table>", 1)[1]
    assert charts.count("<svg") == 2 and "<h3>easy</h3>" in charts and "<h3>math</h3>" in charts
    assert charts.count("<rect") == 4  # a bar per target in each tag's chart
    assert "<h2>By tag</h2>" not in render_html([row("c1", "t", 1.0, tags=[])])


def test_hostile_text_is_escaped_everywhere() -> None:
    rows = [
        row(HOSTILE, HOSTILE, 1.0, output=HOSTILE, tags=[HOSTILE]),
        row("c2", HOSTILE, None, error=HOSTILE, output=HOSTILE),
        row("c2", "other", 0.0, scorer=HOSTILE),
        row("c3", "other", 1.0, scorer=HOSTILE, run_id=HOSTILE),
    ]
    page = render_html(rows, title=HOSTILE, runs_meta=[{HOSTILE: HOSTILE, "x": {"y": HOSTILE}}])
    lower = page.lower()
    assert "<script" not in lower
    assert "<img" not in lower
    assert "<a " not in lower
    assert "&lt;script&gt;" in page


def test_no_external_assets_or_links() -> None:
    page = render_html(sample(), title="t", runs_meta=[{"run_id": "r1"}])
    assert not re.search(r"\b(src|href)\s*=", page, re.IGNORECASE)
    assert "http" not in page.lower()
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "<script" not in page.lower()


def test_errors_are_highlighted() -> None:
    rows = [*sample(), row("c10", "local:smollm2", None, error="judge timed out")]
    page = render_html(rows)
    assert "judge timed out" in page
    assert 'class="o err"' in page
    assert 'class="n err">1<' in page  # the leaderboard's error count


def test_renders_case_results_and_empty_input() -> None:
    results = [
        CaseResult(
            run_id="r",
            case_id="c1",
            target="t",
            repeat=0,
            output=TargetOutput("42", 0.3),
            scores=[Score("exact", 1.0)],
        )
    ]
    assert "42" in render_html(results)
    assert "<h1>Eval report</h1>" in render_html([])


def test_two_runs_are_labelled_by_run() -> None:
    rows = sample() + [{**r, "run_id": "r2"} for r in sample()]
    page = render_html(rows)
    assert "r2 · local:smollm2" in page


def test_a_thousand_cases_stay_small() -> None:
    rows = []
    long_output = "The answer is 42. " * 40  # 720 characters
    for target in ("local:smollm2", "openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5"):
        for i in range(1000):
            for scorer in ("exact", "judge"):
                rows.append(
                    row(
                        f"case-{i:04d}",
                        target,
                        float((i + len(scorer)) % 3 == 0),
                        scorer=scorer,
                        output=long_output,
                        tags=["math", "long"],
                        cost_usd=0.0001,
                    )
                )
    started = time.perf_counter()
    page = render_html(rows, title="big")
    elapsed = time.perf_counter() - started
    size = len(page.encode("utf-8"))
    assert size < 2_000_000, size
    assert page.count("case-0999") >= 1
    assert elapsed < 30
