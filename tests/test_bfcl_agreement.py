"""``call_match`` and ``no_call`` give BFCL's official verdicts, output for output.

Model outputs are built from BFCL's own entries in the five bundled categories: correct calls,
then the faults the leaderboard sees (wrong types, an int for a float and a float for an int,
missing required and extra parameters, optional ones omitted, the wrong function among
several, parallel calls reordered and duplicated, no call, arguments that are not JSON...).
Each output is graded twice: by BFCL's ``ast_checker`` run from the ``bfcl-eval`` wheel on the
original entry, and by the workbench's scorer on the converted case. Every verdict must agree;
hypothesis then throws arbitrary JSON values at the parameters.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk

from assistant.agent.middleware import tool_call_records
from assistant.types import ModelCallRecord, Usage
from evals.calls.bfcl import convert_category, read_category
from evals.scorers import build_scorer
from evals.types import Case, TargetOutput
from tests.bfcl_support import OfficialChecker, bfcl_wheel, load_official_checker

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")
ENTRIES_PER_CATEGORY = 40


@pytest.fixture(scope="module")
def wheel() -> Path:
    return bfcl_wheel()


@pytest.fixture(scope="module")
def official(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> OfficialChecker:
    return load_official_checker(wheel, tmp_path_factory.mktemp("bfcl"))


@pytest.fixture(scope="module")
def entries(wheel: Path) -> dict[str, list[tuple[dict[str, Any], list[Any] | None, Case]]]:
    """Per category: (BFCL question, BFCL possible answer, converted case), in file order."""
    loaded = {}
    for category in CATEGORIES:
        questions, answers = read_category(wheel, category)
        by_id = {answer["id"]: answer["ground_truth"] for answer in answers}
        cases = convert_category(wheel, category).cases
        loaded[category] = [
            (question, by_id.get(question["id"]), Case.model_validate(case))
            for question, case in zip(questions, cases, strict=True)
        ]
    return loaded


# -- building outputs ---------------------------------------------------------------------


def _underscored(name: str) -> str:
    return name.replace(".", "_")


def _first(values: list[Any]) -> Any:
    return next(value for value in values if value != "")


def _correct(
    call: dict[str, dict[str, list[Any]]], *, omit_optional: bool = False
) -> tuple[str, dict[str, Any]]:
    name, params = next(iter(call.items()))
    args = {}
    for param, values in params.items():
        if all(value == "" for value in values) or (omit_optional and "" in values):
            continue
        args[param] = copy.deepcopy(_first(values))
    return _underscored(name), args


def _schema(question: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in question["function"] if _underscored(f["name"]) == _underscored(name))


def _filler(kind: str) -> Any:
    return {
        "integer": 3,
        "float": 2.5,
        "string": "Paris",
        "boolean": True,
        "array": ["a"],
        "tuple": ["a"],
        "dict": {"k": "v"},
        "any": "x",
    }.get(kind, "x")


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value)
    if isinstance(value, str):
        return 42
    if isinstance(value, list):
        return "not a list"
    return 7


Calls = list[tuple[str, Any]]
"""A model's calls: (name, arguments as a dict, or raw argument text)."""


def _mutations(question: dict[str, Any], answer: list[Any]) -> Iterator[tuple[str, Calls | str]]:
    """(kind, output) pairs: the correct calls, then faults of one call."""
    correct = [_correct(call) for call in answer]
    yield "correct", list(correct)
    yield "omit_optional", [_correct(call, omit_optional=True) for call in answer]
    name, args = correct[0]
    function = _schema(question, name)
    properties = function["parameters"]["properties"]
    required = function["parameters"].get("required", [])
    expected_params = next(iter(answer[0].values()))

    def with_first(new_args: dict[str, Any] | str, new_name: str | None = None) -> Calls:
        return [(new_name or name, new_args), *correct[1:]]

    for param, value in args.items():
        kind = properties.get(param, {}).get("type")
        yield f"wrong_type:{kind}", with_first({**args, param: _wrong_type(value)})
        if kind == "float" and isinstance(value, float):
            yield "int_for_float", with_first({**args, param: int(value)})
        if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
            yield "float_for_int", with_first({**args, param: float(value)})
            yield "float_for_int_frac", with_first({**args, param: value + 0.5})
            yield "bool_for_int", with_first({**args, param: True})
            yield "wrong_value_int", with_first({**args, param: value + 1})
        if kind == "string" and isinstance(value, str):
            yield "string_normalised", with_first({**args, param: f" {value.upper()}."})
            yield "wrong_value_string", with_first({**args, param: value + " elsewhere"})
        if kind in ("array", "tuple") and isinstance(value, list) and value:
            yield "list_item_type", with_first({**args, param: [str(item) for item in value]})
            yield "list_reordered", with_first({**args, param: list(reversed(value))})
        if kind == "dict" and isinstance(value, dict) and value:
            key = next(iter(value))
            yield "dict_extra_key", with_first({**args, param: {**value, "zz_extra": 1}})
            yield (
                "dict_missing_key",
                with_first({**args, param: {k: v for k, v in value.items() if k != key}}),
            )
    for param in required:
        if param in args:
            yield "missing_required", with_first({k: v for k, v in args.items() if k != param})
    yield "extra_param", with_first({**args, "unexpected_argument": 1})
    for param, schema in properties.items():
        if param not in expected_params:
            yield (
                "declared_not_expected",
                with_first({**args, param: _filler(schema.get("type", ""))}),
            )
            break
    for param, values in expected_params.items():
        if "" not in values and param not in required and param in args:
            yield "omitted_non_optional", with_first({k: v for k, v in args.items() if k != param})
    for other in question["function"]:
        if _underscored(other["name"]) != name:
            yield "wrong_function", with_first(args, _underscored(other["name"]))
            break
    original = next(iter(answer[0]))
    if "." in original:
        yield "dotted_name", with_first(args, original)
    if len(correct) > 1:
        yield "reordered", list(reversed(correct))
        yield "duplicated", [correct[0], correct[0], *correct[2:]]
        yield "one_missing", correct[:-1]
    yield "extra_call", [*correct, correct[0]]
    yield "no_call", "I cannot help with that."
    yield "empty_calls", []
    yield "invalid_json", [(name, '{"a": 1,'), *correct[1:]]
    yield "not_an_object", [(name, "[1, 2]"), *correct[1:]]


def _irrelevant_outputs(question: dict[str, Any]) -> Iterator[tuple[str, Calls | str]]:
    function = question["function"][0]
    name = _underscored(function["name"])
    properties = function["parameters"]["properties"]
    args = {
        p: _filler(properties[p].get("type", ""))
        for p in function["parameters"].get("required", [])
    }
    yield "no_call", "That is not something these functions can do."
    yield "empty_calls", []
    yield "a_call", [(name, args)]
    yield "empty_args_call", [(name, {})]
    yield "invalid_json", [(name, "{not json")]
    yield "not_an_object", [(name, '"text"')]
    yield "two_calls", [(name, args), (name, args)]


# -- grading both ways ----------------------------------------------------------------------


def _arguments(args: Any) -> str:
    return args if isinstance(args, str) else json.dumps(args)


def _official_result(output: Calls | str) -> Any:
    """What BFCL's OpenAI FC handler stores: ``[{name: arguments}]``, or the text."""
    if isinstance(output, str):
        return output
    return [{name: _arguments(args)} for name, args in output]


def _trajectory(output: Calls | str) -> list[Any]:
    """What the workbench's raw-model target records for the same answer: the streamed calls
    go through the target's own recording (:func:`tool_call_records` on the merged chunk)."""
    text = output if isinstance(output, str) else ""
    chunk = AIMessageChunk(
        content=text,
        tool_call_chunks=[
            {"name": name, "args": _arguments(args), "id": f"call_{index}", "index": index}
            for index, (name, args) in enumerate([] if isinstance(output, str) else output)
        ],
    )
    records = tool_call_records(chunk) if chunk.tool_call_chunks else []
    return [
        ModelCallRecord(
            model="test:model", latency_s=0.0, usage=Usage(), tool_calls=records, text=text
        )
    ]


def _ours(case: Case, output: Calls | str, scorer: str) -> tuple[bool, str]:
    score = asyncio.run(
        build_scorer(scorer).score(
            case, TargetOutput(output="", latency_s=0.0, trajectory=_trajectory(output))
        )
    )
    assert score.value is not None, score.error
    return score.value == 1.0, score.reason or ""


def _theirs(
    official: OfficialChecker,
    category: str,
    question: dict[str, Any],
    answer: Any,
    output: Calls | str,
) -> bool:
    result = _official_result(output)
    if category == "irrelevance":
        return official.irrelevance_verdict(result)
    return official.ast_verdict(category, question["function"], result, answer)


def test_verdicts_agree_with_bfcls_checker(
    official: OfficialChecker, entries: dict[str, list[tuple[dict[str, Any], Any, Case]]]
) -> None:
    kinds: Counter[str] = Counter()
    verdicts: Counter[tuple[str, bool]] = Counter()
    disagreements = []
    for category in CATEGORIES:
        for question, answer, case in entries[category][:ENTRIES_PER_CATEGORY]:
            scorer = "no_call" if category == "irrelevance" else "call_match"
            outputs = (
                _irrelevant_outputs(question)
                if category == "irrelevance"
                else _mutations(question, answer)
            )
            for kind, output in outputs:
                theirs = _theirs(official, category, question, answer, output)
                ours, reason = _ours(case, output, scorer)
                kinds[kind.split(":")[0]] += 1
                verdicts[(category, theirs)] += 1
                if ours != theirs:
                    disagreements.append(f"{case.id} {kind}: BFCL {theirs}, ours {ours} ({reason})")
    assert not disagreements, "\n".join(disagreements[:20])
    assert sum(kinds.values()) >= 300
    for kind in (
        "correct", "wrong_type", "int_for_float", "float_for_int", "missing_required",
        "extra_param", "omit_optional", "wrong_function", "reordered", "duplicated", "no_call",
        "invalid_json",
    ):  # fmt: skip
        assert kinds[kind] > 0, f"no output of kind {kind}"
    for category in CATEGORIES:  # each category has outputs BFCL passes and outputs it fails
        assert verdicts[(category, True)] > 0 and verdicts[(category, False)] > 0, category


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-3, 3, allow_nan=False).map(lambda x: round(x, 1))
    | st.sampled_from(["", "Paris", "paris", "New York", "x"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "unit"]), inner, max_size=2)
    ),
    max_leaves=5,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_arbitrary_argument_values_get_bfcls_verdict(
    data: st.DataObject,
    official: OfficialChecker,
    entries: dict[str, list[tuple[dict[str, Any], Any, Case]]],
) -> None:
    category = data.draw(st.sampled_from(CATEGORIES[:4]))
    question, answer, case = data.draw(st.sampled_from(entries[category][:ENTRIES_PER_CATEGORY]))
    calls = [_correct(call) for call in answer]
    index = data.draw(st.integers(0, len(calls) - 1))
    name, args = calls[index]
    properties = _schema(question, name)["parameters"]["properties"]
    for param in data.draw(st.lists(st.sampled_from(sorted(properties)), max_size=3, unique=True)):
        if data.draw(st.booleans()):
            args = {**args, param: data.draw(json_values)}
        else:
            args = {k: v for k, v in args.items() if k != param}
    calls[index] = (name, args)
    random.Random(data.draw(st.integers(0, 9))).shuffle(calls)
    theirs = _theirs(official, category, question, answer, calls)
    ours, reason = _ours(case, calls, "call_match")
    assert ours == theirs, f"{case.id} {calls}: BFCL {theirs}, ours {ours} ({reason})"
