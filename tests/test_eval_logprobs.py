"""Token logprobs in the eval harness: a model target asked for them records them on its
model-call step, they are stored with the trajectory, and the ``confidence`` scorer reads them
(the embedded model for real; fixed entries for the scorer's arithmetic)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pytest

from assistant.types import ModelCallRecord, Usage
from evals import Case, Dataset, ScorerSpec, build_scorer, evaluate, resolve_target
from evals.types import TargetOutput


def _output(*logprobs: float) -> TargetOutput:
    entries = [{"token": f"t{i}", "logprob": value, "bytes": [], "top_logprobs": []}
               for i, value in enumerate(logprobs)]  # fmt: skip
    step = ModelCallRecord(model="m", latency_s=0.1, usage=Usage(1, 1), logprobs=entries)
    return TargetOutput(output="x", latency_s=0.1, trajectory=[step])


async def test_confidence_is_the_geometric_mean_of_token_probabilities() -> None:
    scorer = build_scorer(ScorerSpec(name="confidence"))
    case = Case(id="c", input="q")
    sure = await scorer.score(case, _output(0.0, 0.0))
    unsure = await scorer.score(case, _output(math.log(0.5), math.log(0.125)))
    assert sure.value == pytest.approx(1.0)
    assert unsure.value == pytest.approx(0.25)  # exp((ln .5 + ln .125) / 2)
    assert "t1" in (unsure.reason or "")  # the least sure token is named
    missing = await scorer.score(case, TargetOutput(output="x", latency_s=0.1))
    assert missing.value is None and "logprobs" in (missing.error or "")


@pytest.mark.slow
async def test_local_model_logprobs_are_recorded_stored_and_scored(tmp_path: Path) -> None:
    from assistant.agent import build_assistant
    from assistant.config import load_settings

    assistant = build_assistant(load_settings())
    target = resolve_target(
        "local:smollm2",
        assistant,
        label="smollm2 logprobs",
        params={"temperature": 0.0, "max_tokens": 8, "logprobs": True, "top_logprobs": 2},
    )
    dataset = Dataset(
        "logprobs",
        [Case(id="hello", input="Say hello."), Case(id="sky", input="What colour is the sky?")],
        default_scorers=[ScorerSpec(name="confidence")],
    )
    db = tmp_path / "runs.duckdb"
    summary = await evaluate(dataset, [target], db=db, assistant=assistant)
    assert summary.done == 2
    await assistant.aclose()
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT output, trajectory FROM results ORDER BY case_id").fetchall()
        values = con.execute("SELECT value FROM scores WHERE scorer = 'confidence'").fetchall()
    for output, trajectory in rows:
        (step,) = json.loads(trajectory)
        entries = step["logprobs"]
        assert entries and "".join(e["token"] for e in entries) == output
        assert all(len(e["top_logprobs"]) == 2 for e in entries)
    assert len(values) == 2 and all(0.0 < value <= 1.0 for (value,) in values)
