"""Eval scorers: the LLM judge, with scripted judges."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from evals.scorers import (
    parse_judge_reply,
)
from evals.scorers.judge import JudgeParseError
from tests.fakes.scripted import ScriptedChatModel, ScriptedProvider, scripted_assistant
from tests.scorer_support import (  # the clean_registry fixture comes through conftest
    case,
    fixed_model,
    out,
    score,
)

# -- llm_judge ---------------------------------------------------------------------------------


JUDGE = {"name": "llm_judge", "args": {"rubric": "Correct and concise."}}


async def test_judge_scores_and_records_its_reasoning() -> None:
    model = FakeListChatModel(responses=["The answer is right but wordy.\nSCORE: 8"])
    asked: list[str] = []
    result = await score(
        JUDGE, case(expected="4"), out("2 + 2 = 4"), chat_model=fixed_model(model, asked)
    )
    assert result.value == pytest.approx(0.8)
    assert result.reason == "The answer is right but wordy."
    assert result.details["judge_reply"] == "The answer is right but wordy.\nSCORE: 8"
    assert result.details["judge_score"] == "SCORE: 8"
    assert result.details["judge_model"] == "local:smollm2"
    assert asked == ["local:smollm2"]


async def test_judge_prompt_holds_question_reference_answer_and_rubric() -> None:
    model = ScriptedChatModel(script=["fine\nSCORE: 10"])
    the_case = case(
        input=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "What is 2 + 2?"},
        ],
        expected="4",
    )
    result = await score(JUDGE, the_case, out("four"), chat_model=fixed_model(model))
    assert result.value == 1.0
    (messages,) = model.seen
    prompt = str(messages[-1].content)
    for part in (
        "What is 2 + 2?",
        "REFERENCE ANSWER",
        "\n4",
        "four",
        "Correct and concise.",
        "SCORE: <n>",
    ):
        assert part in prompt
    assert "from 0 (worst) to 10 (best)" in prompt
    no_reference = ScriptedChatModel(script=["SCORE: 3"])
    await score(JUDGE, case(), out("x"), chat_model=fixed_model(no_reference))
    assert "REFERENCE" not in str(no_reference.seen[0][-1].content)


async def test_judge_model_ref_from_argument_or_context() -> None:
    asked: list[str] = []
    factory = fixed_model(FakeListChatModel(responses=["SCORE: 5"]), asked)
    await score(JUDGE, case(), out("x"), chat_model=factory, judge_model="openai:gpt-4o-mini")
    spec = {"name": "llm_judge", "args": {"rubric": "r", "model": "ollama:llama3.2"}}
    result = await score(spec, case(), out("x"), chat_model=factory, judge_model="other:m")
    assert asked == ["openai:gpt-4o-mini", "ollama:llama3.2"]
    assert result.details["judge_model"] == "ollama:llama3.2"


async def test_judge_through_an_assistant() -> None:
    """What the runner does: ``Assistant.chat_model`` is the factory."""
    model = ScriptedChatModel(script=["Correct.\nSCORE: PASS"])
    assistant = scripted_assistant(ScriptedProvider("judge", model))
    spec = {"name": "llm_judge", "args": {"rubric": "r", "model": "judge:m", "scale": "pass_fail"}}
    result = await score(spec, case(), out("x"), chat_model=assistant.chat_model)
    assert result.value == 1.0 and result.reason == "Correct."
    unknown = {"name": "llm_judge", "args": {"rubric": "r", "model": "nowhere:m"}}
    missing = await score(unknown, case(), out("x"), chat_model=assistant.chat_model)
    assert missing.value is None and "'nowhere:m' is unavailable" in (missing.error or "")


async def test_judge_pass_fail_and_custom_scale() -> None:
    pass_fail = {"name": "llm_judge", "args": {"rubric": "r", "scale": "pass_fail"}}
    failed = await score(
        pass_fail,
        case(),
        out("x"),
        chat_model=fixed_model(FakeListChatModel(responses=["Wrong.\nSCORE: FAIL"])),
    )
    assert failed.value == 0.0 and failed.passed is False
    five = {"name": "llm_judge", "args": {"rubric": "r", "scale": [1, 5]}}
    graded = await score(
        five,
        case(),
        out("x"),
        chat_model=fixed_model(FakeListChatModel(responses=["ok\nSCORE: 4"])),
    )
    assert graded.value == pytest.approx(0.75)


async def test_unreadable_judge_reply_is_an_error() -> None:
    model = FakeListChatModel(responses=["I think it is quite good overall."])
    result = await score(JUDGE, case(), out("x"), chat_model=fixed_model(model))
    assert result.value is None and "unreadable judge reply" in (result.error or "")
    assert result.details["judge_reply"] == "I think it is quite good overall."
    off_scale = FakeListChatModel(responses=["SCORE: 12"])
    result = await score(JUDGE, case(), out("x"), chat_model=fixed_model(off_scale))
    assert result.value is None and "outside the 0-10 scale" in (result.error or "")


async def test_a_failing_judge_is_an_error() -> None:
    model = ScriptedChatModel(script=[RuntimeError("judge down")])
    result = await score(JUDGE, case(), out("x"), chat_model=fixed_model(model))
    assert result.value is None
    assert result.error == "judge local:smollm2 failed: RuntimeError: judge down"


class SlowChatModel(BaseChatModel):
    """Answers only after ``delay`` seconds."""

    delay: float = 30.0

    @property
    def _llm_type(self) -> str:
        return "slow"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        raise NotImplementedError

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        await asyncio.sleep(self.delay)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="SCORE: 9"))])


async def test_a_slow_judge_times_out() -> None:
    spec = {"name": "llm_judge", "args": {"rubric": "r", "timeout": 0.05}}
    result = await score(spec, case(), out("x"), chat_model=fixed_model(SlowChatModel()))
    assert result.value is None and result.error == "judge local:smollm2 timed out after 0.05 s"


async def test_judge_without_a_model_factory_is_an_error() -> None:
    result = await score(JUDGE, case(), out("x"))
    assert result.value is None and "chat_model=" in (result.error or "")


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("Reasoning.\nSCORE: 8", 0.8),
        ("Reasoning.\nscore = 6.5", 0.65),
        ("**SCORE:** 7", 0.7),
        ("**Score**: 3", 0.3),
        ("SCORE: 9/10", 0.9),
        ("SCORE: 80/100", 0.8),
        ("first SCORE: 2, on reflection\nSCORE: 6", 0.6),
        ('{"reasoning": "fine", "score": 9}', 0.9),
        ('Verdict:\n```json\n{"Score": "4"}\n```', 0.4),
        ("I'd give it 7/10.", 0.7),
        ("I'd say 5 out of 10", 0.5),
        ("Overall a score of 4.", 0.4),
        ("Rating: 10", 1.0),
        ("SCORE: 0", 0.0),
    ],
)
def test_parse_judge_reply(reply: str, value: float) -> None:
    assert parse_judge_reply(reply, (0, 10)).value == pytest.approx(value)


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("Fine.\nSCORE: PASS", 1.0),
        ("SCORE: fail", 0.0),
        ("score: yes", 1.0),
        ("SCORE: 0", 0.0),
        ('{"score": true}', 1.0),
        ("It answers the question.\nPASS", 1.0),
    ],
)
def test_parse_pass_fail(reply: str, value: float) -> None:
    assert parse_judge_reply(reply, "pass_fail").value == value


@pytest.mark.parametrize(
    ("reply", "scale", "message"),
    [
        ("", (0, 10), "empty"),
        ("It is good.", (0, 10), "no 'SCORE"),
        ("SCORE: 11", (0, 10), "outside"),
        ("SCORE: -1", (0, 10), "outside"),
        ("SCORE: PASS", (0, 10), "not a number"),
        ("3/4 of the facts are right", (0, 10), "no 'SCORE"),
        ("could pass, could fail", "pass_fail", "no 'SCORE: PASS'"),
        ("SCORE: 7", "pass_fail", "neither PASS nor FAIL"),
    ],
)
def test_parse_judge_reply_rejects(reply: str, scale: Any, message: str) -> None:
    with pytest.raises(JudgeParseError, match=message):
        parse_judge_reply(reply, scale)
