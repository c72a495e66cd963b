"""Function-calling cases: the format (tools, expected calls, order), the checker's reasons,
the ``call_match``, ``no_call`` and ``tool_called`` scorers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from assistant.types import ModelCallRecord, ToolCallRecord, Usage
from evals.calls import Call, check_calls, compare_params, normalise_tools
from evals.calls.schema import ToolSchemaError, normalise_expected_calls
from evals.dataset import DatasetError, DatasetProblem, case_json_schema, load_dataset
from evals.dataset._common import _Record
from evals.dataset.validation import _validate
from evals.scorers import ScorerError, build_scorer
from evals.types import Case, TargetOutput

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city"],
        },
    },
}
LOG = {
    "name": "math_log",
    "description": "A logarithm.",
    "parameters": {
        "type": "dict",
        "properties": {
            "value": {"type": "float", "description": "The number."},
            "base": {"type": "integer", "description": "The base."},
            "digits": {"type": "tuple", "items": {"type": "integer"}},
            "extra": {"type": "any"},
        },
        "required": ["value", "base"],
    },
}


def _case(**fields: Any) -> Case:
    return Case.model_validate({"id": "c", "input": "q", **fields})


def _output(*calls: tuple[str, Any], text: str = "") -> TargetOutput:
    records = []
    for index, (name, args) in enumerate(calls):
        if isinstance(args, str):
            records.append(
                {"name": name, "args": None, "arguments": args, "id": f"c{index}", "error": "bad"}
            )
        else:
            records.append(
                {"name": name, "args": args, "arguments": json.dumps(args), "id": f"c{index}"}
            )
    step = ModelCallRecord(model="m:x", latency_s=0.0, usage=Usage(), tool_calls=records, text=text)
    return TargetOutput(output=text, latency_s=0.0, trajectory=[step])


def _score(scorer: Any, case: Case, output: TargetOutput) -> Any:
    spec = scorer if not isinstance(scorer, str) else {"name": scorer}
    return asyncio.run(build_scorer(spec).score(case, output))


# -- the format -------------------------------------------------------------------------------


def test_bfcl_bare_functions_are_normalised_to_openai_tools() -> None:
    [tool] = normalise_tools([LOG])
    function = tool["function"]
    assert tool["type"] == "function"
    assert function["parameters"]["type"] == "object"
    properties = function["parameters"]["properties"]
    assert properties["value"] == {
        "type": "number",
        "format": "float",
        "description": "The number.",
    }
    assert properties["digits"]["type"] == "array"
    assert properties["digits"]["items"]["type"] == "integer"
    assert properties["extra"]["type"] == "string"  # BFCL's `any`, as it offers it
    assert normalise_tools([WEATHER]) == [WEATHER | {"function": {**WEATHER["function"]}}]


@pytest.mark.parametrize(
    ("tools", "field", "message"),
    [
        ([{"name": "math.log", "parameters": {"type": "object"}}], "tools[0].name", "math_log"),
        ([{"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "flot"}}}}],
         "tools[0].parameters.properties.x.type", "unknown type 'flot'"),
        ([{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}],
         "tools[0].function.parameters.type", "must be 'object'"),
        ([{"name": "f", "parameters": {"type": "object", "required": ["y"]}}],
         "tools[0].parameters.required", "'y', which is not a property"),
        ([WEATHER, WEATHER], "tools[1].name", "defined twice"),
        ("get_weather", "tools", "must be a list"),
    ],
)  # fmt: skip
def test_a_bad_tool_definition_names_its_field(tools: Any, field: str, message: str) -> None:
    with pytest.raises(ToolSchemaError) as caught:
        normalise_tools(tools)
    assert caught.value.field == field
    assert message in caught.value.message


def test_dataset_errors_give_file_line_and_the_path_inside_tools(tmp_path: Path) -> None:
    good = {
        "id": "ok",
        "input": "q",
        "tools": [WEATHER],
        "expected_calls": [{"get_weather": {"city": ["Paris"]}}],
    }
    bad_type = {
        "id": "t",
        "input": "q",
        "tools": [
            {"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "flot"}}}}
        ],
    }
    bad_call = {
        "id": "e",
        "input": "q",
        "tools": [WEATHER],
        "expected_calls": [{"get_weather": {"town": ["Paris"]}}],
    }
    unknown_fn = {"id": "u", "input": "q", "tools": [WEATHER], "expected_calls": [{"get_time": {}}]}
    bad_shape = {"id": "s", "input": "q", "expected_calls": [{"get_weather": {"city": "Paris"}}]}
    bad_order = {"id": "o", "input": "q", "call_order": "sorted"}
    path = tmp_path / "calls.jsonl"
    lines = [good, bad_type, bad_call, unknown_fn, bad_shape, bad_order]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    shown = [str(problem) for problem in caught.value.problems]
    assert any(
        ":2: field 'tools[0].parameters.properties.x.type': unknown type 'flot'" in s for s in shown
    ), shown
    assert any(
        ":4: field 'expected_calls[0].get_time'" in s and "not among the case's tools" in s
        for s in shown
    ), shown
    assert any(
        ":5: field 'expected_calls[0].get_weather.city'" in s
        and "must be a list of acceptable values" in s
        for s in shown
    ), shown
    assert any(":6: field 'call_order'" in s for s in shown), shown
    assert len(shown) == 4  # an undeclared parameter (line 3) is allowed, as in BFCL's data


def test_the_json_schema_and_the_hash_know_the_new_fields() -> None:
    properties = case_json_schema()["properties"]
    assert {"tools", "expected_calls", "call_order"} <= set(properties)
    # an old case (none of the new fields) hashes as it did before they existed
    from evals.dataset import Dataset

    old = Dataset("d", [_case(expected="x")])
    data = _case(expected="x").model_dump(mode="json")
    for key in ("tools", "expected_calls", "call_order"):
        data.pop(key)
    import hashlib

    canonical = json.dumps([data], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert old.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert Dataset("d", [_case(expected="x", call_order="exact")]).hash != old.hash


# -- the checker's verdicts and reasons --------------------------------------------------------


def _check(args: dict[str, Any], expected: dict[str, list[Any]], tool: Any = LOG) -> Any:
    [normalised] = normalise_tools([tool])
    function = normalised["function"]
    return check_calls(
        [Call.from_arguments(function["name"], args)], [{function["name"]: expected}], [function]
    )


def test_an_int_passes_for_a_float_but_not_a_float_for_an_int() -> None:
    expected = {"value": [100.0], "base": [10]}
    assert _check({"value": 100, "base": 10}, expected).valid
    verdict = _check({"value": 100.0, "base": 10.5}, expected)
    assert not verdict.valid
    assert verdict.reason == "param 'base': expected integer, got 10.5 (float)"
    assert not _check({"value": 100.0, "base": 10.0}, expected).valid
    assert not _check({"value": 100.0, "base": True}, expected).valid  # a bool is not an int


def test_reasons_name_the_parameter_and_what_was_wrong() -> None:
    expected = {"value": [100.0], "base": [10], "digits": ["", [1, 2]]}
    assert _check({"value": 100.0}, expected).reason == "param 'base': required, missing"
    assert _check({"value": 100.0, "base": 10, "bogus": 1}, expected).reason == (
        "param 'bogus': not a parameter of math_log"
    )
    assert _check({"value": 100.0, "base": 10, "extra": "x"}, expected).reason.startswith(
        "param 'extra': not expected"
    )
    assert _check({"value": 100.0, "base": 9}, expected).reason == (
        "param 'base': expected one of [10], got 9 (int)"
    )
    assert _check({"value": 100.0, "base": 10}, expected).valid  # optional omitted
    assert _check({"value": 100.0, "base": 10, "digits": [1, 2]}, expected).valid
    assert not _check({"value": 100.0, "base": 10, "digits": [2, 1]}, expected).valid
    strict = {"value": [100.0], "base": [10], "digits": [[1, 2]]}
    assert "omitted" in _check({"value": 100.0, "base": 10}, strict).reason


def test_strings_compare_after_bfcls_normalisation() -> None:
    expected = {"city": ["New York, NY"]}
    assert _check({"city": "new york ny"}, expected, WEATHER).valid
    assert _check({"city": "NEW-YORK. NY"}, expected, WEATHER).valid
    verdict = _check({"city": "Boston"}, expected, WEATHER)
    assert verdict.reason == "param 'city': expected one of ['New York, NY'], got 'Boston' (str)"


def test_parallel_calls_match_in_any_order_each_expected_call_once() -> None:
    [tool] = normalise_tools([WEATHER])
    expected = [{"get_weather": {"city": ["Paris"]}}, {"get_weather": {"city": ["Rome"]}}]
    paris, rome = (
        Call.from_arguments("get_weather", {"city": "Paris"}),
        Call.from_arguments("get_weather", {"city": "Rome"}),
    )
    functions = [tool["function"]]
    assert check_calls([rome, paris], expected, functions).valid
    assert not check_calls([rome, paris], expected, functions, order="exact").valid
    assert check_calls([paris, rome], expected, functions, order="exact").valid
    twice = check_calls([paris, paris], expected, functions)
    assert not twice.valid and "no call matches expected call 2" in twice.reason
    assert check_calls([paris], expected, functions).reason.startswith("expected 2 calls, got 1")
    assert check_calls([], expected, functions).reason.startswith("no call: expected get_weather(")


def test_arguments_that_are_not_json_are_wrong_not_a_crash() -> None:
    broken = Call.from_arguments("get_weather", '{"city": "Par')
    assert broken.args is None and "not valid JSON" in (broken.error or "")
    verdict = check_calls([broken], [{"get_weather": {"city": ["Paris"]}}])
    assert not verdict.valid and "not valid JSON" in verdict.reason
    assert Call.from_arguments("f", "[1]").error == "arguments are not a JSON object"


def test_compare_params_lays_out_each_parameter() -> None:
    [tool] = normalise_tools([LOG])
    rows = compare_params(
        Call.from_arguments("math_log", {"value": 100, "base": 10.5}),
        {"math_log": {"value": [100.0], "base": [10], "digits": [""]}},
        tool["function"],
    )
    by_param = {row.param: row for row in rows}
    assert by_param["value"].ok and by_param["value"].got == 100
    assert not by_param["base"].ok and "expected integer" in by_param["base"].reason
    assert by_param["digits"].ok and not by_param["digits"].given


# -- scorers ------------------------------------------------------------------------------------


def test_call_match_scores_one_or_zero_with_the_reason() -> None:
    case = _case(
        tools=[WEATHER],
        expected_calls=[{"get_weather": {"city": ["Paris"], "unit": ["celsius", ""]}}],
    )
    good = _score("call_match", case, _output(("get_weather", {"city": "paris"})))
    assert good.value == 1.0
    bad = _score("call_match", case, _output(("get_weather", {"city": "Paris", "unit": "kelvin"})))
    assert bad.value == 0.0
    assert bad.reason == "param 'unit': expected one of ['celsius', ''], got 'kelvin' (str)"
    assert bad.details["calls"] == [
        {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "kelvin"}'}
    ]
    none = _score("call_match", case, _output(text="It is sunny."))
    assert none.value == 0.0 and none.reason.startswith("no call")
    broken = _score("call_match", case, _output(("get_weather", '{"city": ')))
    assert broken.value == 0.0


def test_call_match_uses_the_cases_order_and_needs_expected_calls() -> None:
    [tool] = normalise_tools([WEATHER])
    calls = [("get_weather", {"city": "Rome"}), ("get_weather", {"city": "Paris"})]
    expected = [{"get_weather": {"city": ["Paris"]}}, {"get_weather": {"city": ["Rome"]}}]
    assert (
        _score("call_match", _case(tools=[tool], expected_calls=expected), _output(*calls)).value
        == 1.0
    )
    exact = _case(tools=[tool], expected_calls=expected, call_order="exact")
    assert _score("call_match", exact, _output(*calls)).value == 0.0
    missing = _score("call_match", _case(), _output(*calls))
    assert missing.value is None and "expected calls" in (missing.error or "")


def test_call_match_ignores_the_agents_own_tools_that_ran() -> None:
    case = _case(tools=[WEATHER], expected_calls=[{"get_weather": {"city": ["Paris"]}}])
    first = ModelCallRecord(
        model="m", latency_s=0, usage=Usage(),
        tool_calls=[{"name": "calculator", "args": {"expression": "1+1"}, "id": "a"}],
    )  # fmt: skip
    ran = ToolCallRecord(
        name="calculator", args={"expression": "1+1"}, call_id="a", result="2", latency_s=0
    )
    last = ModelCallRecord(
        model="m", latency_s=0, usage=Usage(),
        tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "b"}],
    )  # fmt: skip
    output = TargetOutput(output="", latency_s=0, trajectory=[first, ran, last])
    assert _score("call_match", case, output).value == 1.0
    assert _score("no_call", case, output).value == 0.0
    assert (
        _score("no_call", case, TargetOutput(output="", latency_s=0, trajectory=[first, ran])).value
        == 1.0
    )


def test_no_call_follows_bfcls_irrelevance_rule() -> None:
    case = _case(tools=[WEATHER], expected_calls=[])
    assert _score("no_call", case, _output(text="No function fits.")).value == 1.0
    called = _score("no_call", case, _output(("get_weather", {"city": "Paris"})))
    assert called.value == 0.0 and "get_weather" in called.reason
    # BFCL: an output whose calls do not decode is not a function call
    assert _score("no_call", case, _output(("get_weather", "{oops"))).value == 1.0
    assert _score("call_match", case, _output(text="No function fits.")).value == 1.0


def test_tool_called_matches_sequences_of_calls_with_argument_subsets_and_counts() -> None:
    output = _output(
        ("calculator", {"expression": "2+2"}),
        ("current_time", {"timezone": "Asia/Tokyo"}),
        ("calculator", {"expression": "3*3"}),
    )
    case = _case()
    spec = {"name": "tool_called", "args": {"calls": [
        {"name": "calculator", "count": 2},
        {"name": "current_time", "args": {"timezone": "Asia/Tokyo"}},
    ]}}  # fmt: skip
    assert _score(spec, case, output).value == 1.0
    ordered = {"name": "tool_called", "args": {"ordered": True, "calls": [
        {"name": "current_time"}, {"name": "calculator", "args": {"expression": "2+2"}},
    ]}}  # fmt: skip
    result = _score(ordered, case, output)
    assert result.value == 0.5 and "calculator(expression='2+2') called before" in result.reason
    wrong = {
        "name": "tool_called",
        "args": {"calls": [{"name": "calculator", "args": {"expression": "1+1"}}]},
    }
    result = _score(wrong, case, output)
    assert result.value == 0.0 and "calculator(expression='1+1') not called" in result.reason
    never = {
        "name": "tool_called",
        "args": {"ordered": True, "calls": [{"name": "delete", "count": 0}]},
    }
    result = _score(never, case, output)
    assert result.value == 1.0 and "not called, as required" in result.reason
    twice = {"name": "tool_called", "args": {"calls": [{"name": "calculator", "count": 1}]}}
    result = _score(twice, case, output)
    assert result.value == 0.0 and "called 2x, expected 1x" in result.reason
    exact = {
        "name": "tool_called",
        "args": {"mode": "exact", "calls": [{"name": "calculator", "count": 2}]},
    }
    result = _score(exact, case, output)
    assert result.value == 0.0 and "unexpected call current_time" in result.reason


def test_tool_called_rejects_bad_call_items() -> None:
    with pytest.raises(ScorerError, match="count must be a whole number"):
        build_scorer({"name": "tool_called", "args": {"calls": [{"name": "x", "count": -1}]}})
    with pytest.raises(ScorerError, match="unknown key 'arg'"):
        build_scorer({"name": "tool_called", "args": {"calls": [{"name": "x", "arg": {}}]}})


# -- any input: a located problem or a case, never a crash --------------------------------------

_json_leaf = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "type",
                    "function",
                    "parameters",
                    "properties",
                    "required",
                    "items",
                    "description",
                    "city",
                    "dict",
                    "float",
                    "",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(tools=_json, expected=_json, order=_json)
def test_any_tools_or_expected_calls_load_or_fail_with_a_located_problem(
    tools: Any, expected: Any, order: Any
) -> None:
    record = {
        "id": "c",
        "input": "q",
        "tools": tools,
        "expected_calls": expected,
        "call_order": order,
    }
    try:
        case = Case.model_validate(record)
    except ValidationError as error:
        problems: list[DatasetProblem] = []
        _validate([_Record(record, line=1)], "cases.jsonl", problems)
        assert problems and all(str(p).startswith("cases.jsonl:1: ") for p in problems)
        assert len(error.errors()) >= 1
        return
    # what loads is usable: normalised tools, checkable expected calls
    for function in case.functions():
        assert function["parameters"]["type"] == "object"
    verdict = check_calls([], case.expected_calls or [], case.functions())
    assert verdict.valid == (case.expected_calls in (None, []))


def test_object_answers_list_values_per_key() -> None:
    with pytest.raises(ToolSchemaError) as caught:
        normalise_expected_calls([{"f": {"loc": [{"city": "Paris"}]}}])
    assert caught.value.field == "expected_calls[0].f.loc[0].city"
    assert normalise_expected_calls([{"f": {"loc": [{"city": ["Paris"]}, ""]}}])


def test_values_that_cannot_be_compared_fail_the_call_not_the_scorer() -> None:
    untyped = {"name": "f", "parameters": {"type": "object", "properties": {"n": {}}}}
    union = {
        "name": "f",
        "parameters": {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}},
    }
    for tool in (untyped, union):
        assert _check({"n": 5}, {"n": [5]}, tool).valid
        assert not _check({"n": True}, {"n": [1]}, tool).valid  # a bool is not an int
        assert not _check({"n": 1.0}, {"n": [1]}, tool).valid
        assert not _check({"n": {"a": 1}}, {"n": [5]}, tool).valid
        assert not _check({"n": [1]}, {"n": [5]}, tool).valid
    huge = Call.from_arguments("f", '{"n": ' + "9" * 5000 + "}")
    assert huge.args is None and "not valid JSON" in (huge.error or "")
    objects = {"type": "array", "items": {"type": "dict"}}
    listed = {"name": "f", "parameters": {"type": "object", "properties": {"n": objects}}}
    weird = _check({"n": [1]}, {"n": [[{"a": [1]}], ""]}, listed)
    assert not weird.valid


def test_compare_params_shows_a_required_parameter_the_answer_does_not_list() -> None:
    [tool] = normalise_tools([LOG])
    rows = compare_params(
        Call.from_arguments("math_log", {"value": 1.0}),
        {"math_log": {"value": [1.0]}},
        tool["function"],
    )
    by_param = {row.param: row for row in rows}
    assert not by_param["base"].ok and by_param["base"].reason == "required, missing"
