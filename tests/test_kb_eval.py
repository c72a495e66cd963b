"""The knowledge base under the eval harness: retrieval metrics without a judge, retrieved
contexts flowing to the ragas scorers, and an end-to-end run stored in DuckDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from evals import evaluate
from evals.scorers.retrieval import matches
from evals.targets import retrieved_contexts
from evals.types import Case, TargetOutput
from tests.fakes.scripted import ScriptedChatModel, ScriptedProvider, scripted_assistant
from tests.kb_support import ingest, knowledge_base, write
from tests.scorer_support import score
from tests.test_eval_scorers_ragas import nli, ragas_judge

DOCS = {
    "docs/leave.md": "# Leave\n\nEmployees get 27 days of paid leave a year.",
    "docs/laptops.md": "# Laptops\n\nLaptops are replaced every three years.",
    "docs/travel.md": "# Travel\n\nTrain travel is preferred for trips under six hours.",
}
LEAVE = {"source": "docs/leave.md", "quote": "27 days of  PAID leave"}


def case(**fields: Any) -> Case:
    return Case(id="c1", input="How much paid leave?", metadata={"relevant": [LEAVE]}, **fields)


def output(sources: list[str], texts: list[str]) -> TargetOutput:
    return TargetOutput(output="x", latency_s=0.1, contexts=texts, context_sources=sources)


def test_labels_match_by_source_and_quote() -> None:
    text = "# Leave\n\nEmployees get 27 days of paid\nleave a year."
    assert matches(LEAVE, "kb/docs/leave.md#0", text)  # whitespace and case ignored
    assert not matches(LEAVE, "docs/other.md#0", text)
    assert matches({"source": "", "quote": "27 days"}, "anything#3", text)


async def test_recall_at_k_and_mrr() -> None:
    retrieved = output(
        ["docs/laptops.md#0", "docs/travel.md#0", "docs/leave.md#0"],
        ["Laptops are replaced.", "Train travel.", "Employees get 27 days of paid leave a year."],
    )
    assert (await score("mrr", case(), retrieved)).value == pytest.approx(1 / 3)
    assert (await score({"name": "recall_at_k", "args": {"k": 3}}, case(), retrieved)).value == 1
    at_2 = await score({"name": "recall_at_k", "args": {"k": 2}}, case(), retrieved)
    assert at_2.value == 0 and at_2.details["retrieved"] == retrieved.context_sources[:2]
    nothing = await score("mrr", case(), output([], []))
    assert nothing.value == 0
    unlabelled = await score("mrr", Case(id="u", input="q"), retrieved)
    assert unlabelled.value is None and "metadata.relevant" in (unlabelled.error or "")
    no_retrieval = await score("recall_at_k", case(), TargetOutput(output="x", latency_s=0.1))
    assert no_retrieval.value is None and "retrieved nothing" in (no_retrieval.error or "")


async def test_ragas_scorers_prefer_the_retrieved_contexts() -> None:
    judge = ragas_judge(
        {
            "StatementGeneratorOutput": {"statements": ["Employees get 27 days of leave."]},
            "NLIStatementOutput": nli([1]),
        }
    )
    from tests.scorer_support import fixed_model

    retrieved = output(["docs/leave.md#0"], ["RETRIEVED: Employees get 27 days of paid leave."])
    result = await score(
        "faithfulness",
        case(contexts=["FIXED: the case's own passage"]),
        retrieved,
        chat_model=fixed_model(judge),
    )
    assert result.value == pytest.approx(1.0), result.error
    prompts = " ".join(call.messages[-1].text for call in judge.calls)
    assert "RETRIEVED:" in prompts and "FIXED:" not in prompts


def test_contexts_come_from_the_trajectory() -> None:
    from assistant.types import ToolCallRecord

    step = ToolCallRecord(
        name="knowledge_search",
        args={"query": "q"},
        call_id="1",
        result="[1] docs/a.md#0 (A)\nalpha text\n\n[2] docs/b.md#2\nbeta text",
        latency_s=0.0,
    )
    assert retrieved_contexts([step, step]) == {
        "contexts": ["alpha text", "beta text"],
        "context_sources": ["docs/a.md#0", "docs/b.md#2"],
    }
    assert retrieved_contexts([]) == {}


async def test_an_eval_run_over_the_knowledge_base_is_stored(tmp_path: Path) -> None:
    kb = knowledge_base(tmp_path)
    ingest(kb, write(tmp_path, DOCS))
    dataset = tmp_path / "kb_cases.jsonl"
    cases = [
        {"id": "leave", "input": "How many days of paid leave a year?", "relevant": LEAVE},
        {
            "id": "laptops",
            "input": "How often are laptops replaced?",
            "relevant": {"source": "docs/laptops.md", "quote": "every three years"},
        },
    ]
    dataset.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": c["id"],
                    "input": c["input"],
                    "expected": "see the docs",
                    "scorers": [{"name": "recall_at_k", "args": {"k": 2}}, "mrr"],
                    "metadata": {"relevant": [c["relevant"]]},
                }
            )
            for c in cases
        )
    )
    model = ScriptedChatModel(script=["From the handbook [1]."], cycle=True)
    assistant = scripted_assistant(
        ScriptedProvider("s", model), profiles={"rag": {"model": "s:m", "retrieval": "auto"}}
    )
    assistant.knowledge = kb
    db = tmp_path / "runs.duckdb"

    summary = await evaluate(dataset, ["kb:bm25", "rag"], db=db, assistant=assistant)

    assert summary.done == 4 and summary.errors == 0
    with duckdb.connect(str(db), read_only=True) as con:
        scores = con.execute(
            "SELECT target, case_id, scorer, value FROM scores WHERE run_id = ? "
            "ORDER BY target, case_id, scorer",
            [summary.run_id],
        ).fetchall()
        trajectory = con.execute(
            "SELECT trajectory FROM results WHERE target = 'rag' AND case_id = 'leave'"
        ).fetchone()
    assert scores == [
        ("kb:bm25", "laptops", "mrr", 1.0),
        ("kb:bm25", "laptops", "recall_at_k", 1.0),
        ("kb:bm25", "leave", "mrr", 1.0),
        ("kb:bm25", "leave", "recall_at_k", 1.0),
        ("rag", "laptops", "mrr", 1.0),
        ("rag", "laptops", "recall_at_k", 1.0),
        ("rag", "leave", "mrr", 1.0),
        ("rag", "leave", "recall_at_k", 1.0),
    ]
    assert trajectory is not None and "docs/leave.md#0" in trajectory[0]  # contexts kept
    systems = [m.text for messages in model.seen for m in messages if m.type == "system"]
    assert any("docs/leave.md#0" in text for text in systems)  # the model saw the sources
