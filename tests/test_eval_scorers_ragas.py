"""Eval scorers: the ragas RAG metrics, with scripted judges that answer ragas's prompts.

ragas asks its judge for JSON matching a pydantic model whose schema is in the prompt; the
scripted judge here reads the schema's title and answers for it, so each metric's value is
known in advance. The real embedded model is used once, at the end, as a judge that may or
may not produce parsable output: either way the case gets a value or an error, never a crash.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from evals.scorers import ScorerContext, validate_specs
from evals.types import Score
from tests.fakes.scripted import ScriptedChatModel
from tests.scorer_support import (  # the clean_registry fixture: conftest
    case,
    fixed_model,
    out,
    score,
)

RAG_METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall"]
QUESTION = "What is the capital of France?"
CONTEXTS = ["France borders Spain.", "Paris is the capital and largest city of France."]
_TOP_TITLE = re.compile(r'"title": "(\w+)", "type": "object"\}')

Answer = str | Callable[[str], Any] | Mapping[str, Any]


def ragas_judge(answers: Mapping[str, Answer]) -> ScriptedChatModel:
    """A judge answering each ragas prompt by the title of the output schema it asks for.

    ``answers`` maps a schema title (e.g. ``NLIStatementOutput``) to a JSON-able object, a
    raw string, or a function of the prompt text returning either.
    """

    def answer(messages: list[BaseMessage]) -> str:
        prompt = messages[-1].text
        titles = _TOP_TITLE.findall(prompt)
        title = titles[-1] if titles else ""
        found = answers.get(title)
        if found is None:
            return "I cannot answer that."
        value = found(prompt) if callable(found) else found
        return value if isinstance(value, str) else json.dumps(value)

    return ScriptedChatModel(script=[answer], cycle=True)


def fake_embeddings(asked: list[str] | None = None) -> Callable[[str], Embeddings]:
    def factory(ref: str) -> Embeddings:
        if asked is not None:
            asked.append(ref)
        return DeterministicFakeEmbedding(size=32)

    return factory


async def rag_score(
    name: str | dict[str, Any],
    judge: BaseChatModel,
    *,
    answer: str = "Paris is the capital of France. It has 90 million people.",
    expected: str | None = "Paris is the capital of France. It is its largest city.",
    contexts: list[str] | None = None,
    **kwargs: Any,
) -> Score:
    return await score(
        name,
        case(
            input=QUESTION, expected=expected, contexts=CONTEXTS if contexts is None else contexts
        ),
        out(answer),
        chat_model=fixed_model(judge),
        embeddings=kwargs.pop("embeddings", fake_embeddings()),
        **kwargs,
    )


# -- each metric, computed from known judge verdicts -------------------------------------------


def prompt_input(prompt: str) -> dict[str, Any]:
    """The JSON input of a ragas prompt (after its few-shot examples)."""
    return dict(json.loads(prompt.rsplit("input: ", 1)[1].rsplit("Output:", 1)[0]))


def nli(verdicts: list[int]) -> Callable[[str], Any]:
    def answer(prompt: str) -> Any:
        statements = prompt_input(prompt)["statements"]
        return {
            "statements": [
                {"statement": s, "reason": "checked", "verdict": v}
                for s, v in zip(statements, verdicts, strict=True)
            ]
        }

    return answer


async def test_faithfulness_is_the_share_of_supported_statements() -> None:
    judge = ragas_judge(
        {
            "StatementGeneratorOutput": {
                "statements": ["Paris is the capital of France.", "France has 90 million people."]
            },
            "NLIStatementOutput": nli([1, 0]),
        }
    )
    result = await rag_score("faithfulness", judge)
    assert result.error is None, result.error
    assert result.value == pytest.approx(0.5)
    assert result.details["metric"] == "faithfulness"
    assert result.details["judge_model"] == "local:smollm2"
    assert result.details["ragas_version"]
    prompts = [call.messages[-1].text for call in judge.calls]
    assert QUESTION in prompts[0] and CONTEXTS[1] in prompts[1]  # the case reached ragas


async def test_context_recall_is_the_share_of_reference_claims_attributed() -> None:
    judge = ragas_judge(
        {
            "ContextRecallClassifications": {
                "classifications": [
                    {"statement": "Paris is the capital.", "reason": "in context", "attributed": 1},
                    {
                        "statement": "It is the largest city.",
                        "reason": "in context",
                        "attributed": 1,
                    },
                    {"statement": "Something else.", "reason": "absent", "attributed": 0},
                ]
            }
        }
    )
    result = await rag_score("context_recall", judge)
    assert result.value == pytest.approx(2 / 3)


async def test_context_precision_rewards_useful_contexts_ranked_first() -> None:
    def verdict(prompt: str) -> Any:
        useful = "Paris" in prompt_input(prompt)["context"]
        return {"reason": "judged", "verdict": int(useful)}

    judge = ragas_judge({"Verification": verdict})
    useful_last = await rag_score("context_precision", judge)
    assert useful_last.value == pytest.approx(0.5)  # precision@2 = 1/2, one useful context
    useful_first = await rag_score("context_precision", judge, contexts=CONTEXTS[::-1])
    assert useful_first.value == pytest.approx(1.0)


async def test_answer_relevancy_compares_generated_questions_by_embeddings() -> None:
    asked: list[str] = []
    echo = ragas_judge({"ResponseRelevanceOutput": {"question": QUESTION, "noncommittal": 0}})
    same = await rag_score("answer_relevancy", echo, embeddings=fake_embeddings(asked))
    assert same.value == pytest.approx(1.0)  # identical question: cosine 1
    assert asked and set(asked) == {"local:smollm2"}
    assert same.details["embeddings_model"] == "local:smollm2"

    dodge = ragas_judge({"ResponseRelevanceOutput": {"question": QUESTION, "noncommittal": 1}})
    noncommittal = await rag_score("answer_relevancy", dodge)
    assert noncommittal.value == pytest.approx(0.0)  # an evasive answer scores 0

    other = ragas_judge(
        {"ResponseRelevanceOutput": {"question": "How tall is Mont Blanc?", "noncommittal": 0}}
    )
    unrelated = await rag_score("answer_relevancy", other)
    assert unrelated.value is not None and unrelated.value < 0.9


async def test_models_named_in_the_spec_or_the_context_are_used() -> None:
    asked: list[str] = []
    judge = ragas_judge({"ResponseRelevanceOutput": {"question": QUESTION, "noncommittal": 0}})
    embedded: list[str] = []
    result = await score(
        {
            "name": "answer_relevancy",
            "args": {"model": "openai:judge", "embeddings_model": "openai:embed"},
        },
        case(input=QUESTION),
        out("Paris."),
        chat_model=fixed_model(judge, asked),
        embeddings=fake_embeddings(embedded),
        judge_model="local:other",
    )
    assert result.value == pytest.approx(1.0)
    assert set(asked) == {"openai:judge"} and set(embedded) == {"openai:embed"}


# -- failures are errors on the case, never a crash or a NaN ------------------------------------


async def test_unparsable_judge_output_is_an_error() -> None:
    judge = ragas_judge({})  # answers every prompt with prose
    result = await rag_score("faithfulness", judge)
    assert result.value is None
    assert "could not be parsed" in (result.error or "")
    assert result.details["metric"] == "faithfulness"


async def test_a_nan_from_ragas_is_an_error() -> None:
    judge = ragas_judge({"StatementGeneratorOutput": {"statements": []}})
    result = await rag_score("faithfulness", judge)
    assert result.value is None
    assert "no score (NaN)" in (result.error or "")


async def test_a_slow_judge_times_out() -> None:
    gate = asyncio.Event()  # never set: the judge hangs until the scorer gives up

    class HangingJudge(ScriptedChatModel):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            await gate.wait()
            raise AssertionError("unreachable")

    result = await rag_score(
        {"name": "context_recall", "args": {"timeout": 0.2}}, HangingJudge(script=[])
    )
    assert result.value is None
    assert "timed out after 0.2 s" in (result.error or "")


async def test_a_failing_judge_is_an_error() -> None:
    judge = ScriptedChatModel(script=[ConnectionError("upstream refused")], cycle=True)
    result = await rag_score("context_recall", judge)
    assert result.value is None
    assert "ConnectionError" in (result.error or "") and "upstream refused" in (result.error or "")


async def test_an_unavailable_judge_is_an_error() -> None:
    def unavailable(ref: str) -> BaseChatModel:
        raise LookupError(f"no model {ref}")

    result = await score(
        "faithfulness",
        case(input=QUESTION, contexts=CONTEXTS),
        out("Paris."),
        chat_model=unavailable,
    )
    assert result.value is None and "no model local:smollm2" in (result.error or "")


async def test_missing_inputs_are_named() -> None:
    faithfulness = await score("faithfulness", case(), out("x"), chat_model=fixed_model(None))  # type: ignore[arg-type]
    assert faithfulness.details["missing_inputs"] == ["contexts"]
    assert faithfulness.error == "faithfulness needs contexts"
    recall = await score("context_recall", case(), out("x"))
    assert recall.details["missing_inputs"] == ["contexts", "expected", "judge model"]
    relevancy = await score("answer_relevancy", case(), out("x"), chat_model=fixed_model(None))  # type: ignore[arg-type]
    assert relevancy.details["missing_inputs"] == ["embeddings"]


def test_rag_metric_specs_validate() -> None:
    specs = [
        {"name": name, "args": {"model": "local:smollm2", "timeout": 30}} for name in RAG_METRICS
    ]
    assert [spec.name for spec in validate_specs(specs)] == RAG_METRICS


def test_scorer_context_defaults() -> None:
    context = ScorerContext()
    assert context.chat_model is None and context.embeddings is None
    assert context.judge_model == "local:smollm2"
    assert context.embeddings_model == "local:smollm2"


# -- the real embedded model as judge and embeddings ---------------------------------------------


@pytest.mark.slow
async def test_ragas_metrics_on_the_embedded_model(local_assistant: Any) -> None:
    """SmolLM2-135M rarely writes ragas's JSON: each metric yields a value or an error.

    Two metrics (about 20 s each here): one judged on the contexts, one with real embeddings.
    """
    results = []
    for name in ["faithfulness", "answer_relevancy"]:
        result = await score(
            {"name": name, "args": {"timeout": 120}},
            case(input=QUESTION, expected="Paris", contexts=CONTEXTS),
            out("Paris is the capital of France."),
            chat_model=local_assistant.chat_model,
            embeddings=local_assistant.embeddings,
        )
        results.append(result)
        assert (result.value is None) != (result.error is None), result
        if result.value is not None:
            assert 0.0 <= result.value <= 1.0 and math.isfinite(result.value)
        else:
            assert "Traceback" not in (result.error or "")
    assert all(r.details.get("ragas_version") for r in results)
