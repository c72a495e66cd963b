"""Eval scorers: the registry and every deterministic built-in on known inputs."""

from __future__ import annotations

from typing import Any

import pytest

from evals.scorers import (
    ScorerError,
    build_scorer,
    describe_scorers,
    extract_number,
    find_json,
    register_scorer,
    scorer_names,
    validate_specs,
)
from evals.types import Case, Score, ScorerSpec, TargetOutput
from tests.scorer_support import (  # the clean_registry fixture comes through conftest
    BUILTINS,
    MINIMAL_SPECS,
    assert_valid,
    case,
    out,
    score,
)

# -- registry ---------------------------------------------------------------------------------


def test_every_builtin_is_registered_and_described() -> None:
    assert set(scorer_names()) >= BUILTINS
    assert scorer_names() == sorted(scorer_names())
    described = describe_scorers()
    assert all(described[name] for name in BUILTINS)


@pytest.mark.parametrize(
    "spec",
    ["numeric", {"name": "numeric"}, ScorerSpec(name="numeric"), {"name": "numeric", "args": {}}],
)
def test_build_from_a_name_a_mapping_or_a_spec(spec: Any) -> None:
    scorer = build_scorer(spec)
    assert scorer.name == "numeric"
    assert scorer.spec == ScorerSpec(name="numeric")


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ScorerError, match="unknown scorer 'nope'") as info:
        build_scorer("nope")
    assert "exact" in str(info.value) and "llm_judge" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "regex"}, "scorer 'regex': missing required argument 'pattern'"),
        ({"name": "exact", "args": {"expect": "x"}}, "scorer 'exact': unknown argument 'expect'"),
        (
            {"name": "numeric", "args": {"tolerance": "abc"}},
            "scorer 'numeric': argument 'tolerance'",
        ),
        ({"name": "regex", "args": {"pattern": "("}}, "argument 'pattern': invalid regular"),
        ({"name": "regex", "args": {"pattern": "a", "flags": "iz"}}, "argument 'flags'"),
        (
            {"name": "tool_called", "args": {"mode": "some"}},
            "scorer 'tool_called': argument 'mode'",
        ),
        ({"name": "json_schema", "args": {"schema": {"type": "nope"}}}, "invalid JSON Schema"),
        ({"name": "llm_judge", "args": {}}, "missing required argument 'rubric'"),
        ({"name": "llm_judge", "args": {"rubric": " "}}, "argument 'rubric' must not be empty"),
        ({"name": "llm_judge", "args": {"rubric": "r", "scale": [5, 1]}}, "argument 'scale'"),
        ({"name": "llm_judge", "args": {"rubric": "r", "timeout": 0}}, "argument 'timeout'"),
        ({"name": "contains", "args": {"all": ["a"], "any": ["b"]}}, "only one of"),
        ({"name": "contains", "args": {"all": []}}, "argument 'all'"),
        ({"name": "numeric", "args": {"tolerance": -1}}, "argument 'tolerance'"),
        ({"name": "exact", "args": {"label": ""}}, "argument 'label'"),
        ({"name": "exact", "args": {"context": {}}}, "argument 'context' is reserved"),
        ({"name": "exact", "args": {"expected": object()}}, "must be JSON data"),
        ({"name": "faithfulness", "args": {"timeout": -2}}, "argument 'timeout'"),
        ({"nam": "exact"}, "invalid scorer spec"),
        (42, "a scorer spec is a name"),
    ],
)
def test_bad_arguments_name_the_scorer_and_the_argument(spec: Any, message: str) -> None:
    with pytest.raises(ScorerError, match=message.replace("(", r"\(")):
        build_scorer(spec)


def test_arguments_are_coerced_from_json() -> None:
    judge = build_scorer({"name": "llm_judge", "args": {"rubric": "r", "scale": [1, 5]}})
    assert judge.scale == (1.0, 5.0)  # type: ignore[attr-defined]
    assert judge.spec.args["scale"] == [1, 5]  # the spec keeps what was given


def test_label_names_the_scores() -> None:
    scorer = build_scorer({"name": "regex", "args": {"pattern": "canary", "label": "no_canary"}})
    assert scorer.name == "no_canary"
    assert scorer.spec.name == "regex"


CASES_AND_OUTPUTS = [
    (case(expected="42"), out("It is 42.")),
    (case(expected="Paris"), out("paris")),
    (
        case(expected="7006652", expected_tools=["calculator"]),
        out("7 006 652", tools=["calculator"]),
    ),
    (case(expected="x"), out('{"a": 1}')),
    (case(expected="x"), out("", error="boom")),
]
REBUILD_SPECS = [
    {"name": "exact"},
    {"name": "contains", "args": {"any": ["42", "paris"]}},
    {"name": "regex", "args": {"pattern": r"\d+", "flags": "i", "must_match": False}},
    {"name": "numeric", "args": {"tolerance": 0.5, "relative": True}},
    {"name": "json_schema", "args": {"schema": {"type": "object", "required": ["a"]}}},
    {"name": "tool_called", "args": {"mode": "exact"}},
    {"name": "json_valid", "args": {"label": "is_json"}},
]


@pytest.mark.parametrize("spec", REBUILD_SPECS)
async def test_rebuilding_from_the_spec_gives_equal_results(spec: dict[str, Any]) -> None:
    original = build_scorer(spec)
    rebuilt = build_scorer(ScorerSpec.model_validate_json(original.spec.model_dump_json()))
    assert rebuilt.name == original.name and rebuilt.spec == original.spec
    for the_case, output in CASES_AND_OUTPUTS:
        assert await rebuilt.score(the_case, output) == await original.score(the_case, output)


def test_validate_specs_normalises_and_reports_every_problem() -> None:
    specs = validate_specs(["exact", {"name": "regex", "args": {"pattern": "a"}}])
    assert specs == [ScorerSpec(name="exact"), ScorerSpec(name="regex", args={"pattern": "a"})]
    with pytest.raises(ScorerError) as info:
        validate_specs(["exact", "nope", {"name": "regex"}, {"name": "numeric", "args": {"x": 1}}])
    assert len(info.value.problems) == 3
    assert "unknown scorer 'nope'" in str(info.value)
    assert "missing required argument 'pattern'" in str(info.value)
    assert "unknown argument 'x'" in str(info.value)


def test_validate_specs_takes_a_case_s_scorers() -> None:
    the_case = Case.model_validate(
        {"id": "a", "input": "q", "scorers": ["exact", {"name": "llm_judge", "args": {}}]}
    )
    with pytest.raises(ScorerError, match=r"llm_judge.*rubric"):
        validate_specs(the_case.scorers or [])


async def test_a_plugin_factory_is_guarded(clean_registry: None) -> None:
    class Plain:
        name = "plain"
        spec = ScorerSpec(name="plain")

        def __init__(self, value: float) -> None:
            self.value = value

        async def score(self, case: Case, output: TargetOutput) -> Score:
            if self.value < 0:
                raise RuntimeError("plugin bug")
            return Score(name="whatever", value=self.value, reason="r")

    @register_scorer("plugin_fn")
    def make(value: float = 1.0) -> Plain:
        """A plugin scorer built by a function."""
        return Plain(value)

    assert "plugin_fn" in scorer_names()
    good = await score({"name": "plugin_fn"}, case(), out("x"))
    assert good == Score(name="plugin_fn", value=1.0, reason="r")
    crashed = await score({"name": "plugin_fn", "args": {"value": -1}}, case(), out("x"))
    assert crashed.value is None and "plugin bug" in (crashed.error or "")
    nan = await score({"name": "plugin_fn", "args": {"value": "nan"}}, case(), out("x"))
    assert nan.value is None and "invalid value" in (nan.error or "")
    failed_target = await score({"name": "plugin_fn"}, case(), out(error="down"))
    assert failed_target.value is None and failed_target.error == "target failed: down"


def test_a_name_cannot_be_taken_twice(clean_registry: None) -> None:
    with pytest.raises(ScorerError, match="already registered"):
        register_scorer("exact")(lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ScorerError, match="'label' is reserved"):

        @register_scorer("labelled")
        def make(label: str) -> Any:
            return None


# -- policy shared by every scorer --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILTINS))
async def test_a_failed_target_is_a_scorer_error_not_a_zero(name: str) -> None:
    result = await score(
        {"name": name, "args": MINIMAL_SPECS[name]},
        case(expected="1"),
        out(error="timeout after 30 s"),
    )
    assert result.value is None
    assert result.error == "target failed: timeout after 30 s"
    assert result.passed is None


@pytest.mark.parametrize("name", sorted(BUILTINS))
@pytest.mark.parametrize(
    "output",
    [out(""), out("Answer: 12, see [1]"), out('```json\n{"a": [1, 2]}\n```', tools=["echo"])],
)
async def test_every_scorer_returns_a_valid_score(name: str, output: TargetOutput) -> None:
    the_case = case(expected="12", expected_tools=["echo"], contexts=["Twelve is 12."])
    assert_valid(await score({"name": name, "args": MINIMAL_SPECS[name]}, the_case, output))


# -- exact, contains, regex -------------------------------------------------------------------


async def test_exact() -> None:
    assert (await score("exact", case(expected="Paris"), out("  paris\n"))).value == 1.0
    wrong = await score("exact", case(expected="Paris"), out("Paris."))
    assert wrong.value == 0.0 and "differs" in (wrong.reason or "")
    strict = {"name": "exact", "args": {"case_sensitive": True}}
    assert (await score(strict, case(expected="Paris"), out("paris"))).value == 0.0
    keep_spaces = {"name": "exact", "args": {"strip": False}}
    assert (await score(keep_spaces, case(expected="Paris"), out("Paris "))).value == 0.0
    override = {"name": "exact", "args": {"expected": "Lyon"}}
    assert (await score(override, case(expected="Paris"), out("lyon"))).value == 1.0
    missing = await score("exact", case(), out("Paris"))
    assert missing.value is None and "needs a reference" in (missing.error or "")


async def test_contains() -> None:
    assert (await score("contains", case(expected="Paris"), out("It is PARIS."))).value == 1.0
    assert (await score("contains", case(expected="Lyon"), out("It is Paris."))).value == 0.0
    text = {"name": "contains", "args": {"text": "capital"}}
    assert (await score(text, case(expected="x"), out("The Capital"))).value == 1.0
    all_of = {"name": "contains", "args": {"all": ["red", "green", "blue"]}}
    partial = await score(all_of, case(), out("red and blue"))
    assert partial.value == 0.0 and "'green'" in (partial.reason or "")
    assert partial.details["found"] == ["red", "blue"]
    assert (await score(all_of, case(), out("Blue, green, red"))).value == 1.0
    any_of = {"name": "contains", "args": {"any": ["yes", "certainly"], "case_sensitive": True}}
    assert (await score(any_of, case(), out("Certainly"))).value == 0.0
    assert (await score(any_of, case(), out("certainly"))).value == 1.0
    as_list = {"name": "contains", "args": {"text": ["a", "b"]}}
    assert (await score(as_list, case(), out("a"))).value == 0.0
    missing = await score("contains", case(), out("x"))
    assert missing.value is None and missing.error


async def test_regex_and_canaries() -> None:
    digits = {"name": "regex", "args": {"pattern": r"\b\d{3}\b"}}
    found = await score(digits, case(), out("code 123 ok"))
    assert found.value == 1.0 and found.details["matched"] == "123"
    assert (await score(digits, case(), out("code 12"))).value == 0.0
    canary = {
        "name": "regex",
        "args": {"pattern": "CANARY-[0-9a-f]+", "flags": "i", "must_match": False},
    }
    clean = await score(canary, case(), out("nothing secret here"))
    assert clean.value == 1.0 and "absent" in (clean.reason or "")
    leaked = await score(canary, case(), out("the key is canary-BEEF"))
    assert leaked.value == 0.0 and "forbidden" in (leaked.reason or "")
    multiline = {"name": "regex", "args": {"pattern": "^done$", "flags": "m"}}
    assert (await score(multiline, case(), out("work\ndone\n"))).value == 1.0


# -- numeric ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("The answer is 42.", 42),
        ("1234 * 5678 = 7,006,652", 7006652),
        ("1,234,567", 1234567),
        ("1,234.5", 1234.5),
        ("7 006 652", 7006652),
        ("7\u202f006\u202f652 (narrow no-break spaces)", 7006652),
        ("7\u00a0006", 7006),
        ("-3.5", -3.5),
        ("it drops to \u22122 degrees", -2),
        ("-$12.50", -12.5),
        ("$12", 12),
        ("costs €1,200", 1200),
        ("50%", 50),
        ("rose 12.5 %", 12.5),
        ("1e6", 1_000_000),
        ("6.02E23", 6.02e23),
        ("1.5e-3", 0.0015),
        ("x = .5", 0.5),
        ("pages 10-20", 20),
        ("from 3 to 4, so 4", 4),
        ("1,2,3", 3),
        ("**42**", 42),
        ("\\boxed{17}", 17),
        ("in 2023 100 people", 100),
        ("version 1.2.3", 1.2),
    ],
)
def test_extract_the_last_number(text: str, value: float) -> None:
    found = extract_number(text)
    assert found is not None
    assert found.value == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "no digits", "H2O", "v2", "abc123"])
def test_no_number(text: str) -> None:
    assert extract_number(text) is None


def test_percent_is_recorded() -> None:
    found = extract_number("about 50%")
    assert found is not None and found.percent and found.value == 50


async def test_numeric() -> None:
    right = await score("numeric", case(expected="7006652"), out("1234 * 5678 = 7,006,652"))
    assert right.value == 1.0
    assert "7006652" in (right.reason or "") and "7,006,652" in (right.reason or "")
    assert right.details["extracted"] == 7006652 and right.details["expected"] == 7006652
    wrong = await score("numeric", case(expected="$1,234"), out("It costs 1,243 dollars"))
    assert wrong.value == 0.0 and "expected 1234" in (wrong.reason or "")
    loose = {"name": "numeric", "args": {"tolerance": 0.01, "relative": True}}
    assert (await score(loose, case(expected="1000"), out("about 1005"))).value == 1.0
    assert (await score(loose, case(expected="1000"), out("about 1020"))).value == 0.0
    absolute = {"name": "numeric", "args": {"tolerance": 0.1}}
    assert (await score(absolute, case(expected="3.14"), out("pi is 3.1"))).value == 1.0
    assert (await score("numeric", case(expected="50"), out("50%"))).value == 1.0
    override = {"name": "numeric", "args": {"expected": 12}}
    assert (await score(override, case(), out("twelve: 12"))).value == 1.0
    none_out = await score("numeric", case(expected="3"), out("I don't know"))
    assert none_out.value == 0.0 and "no number in the output" in (none_out.reason or "")
    bad_ref = await score("numeric", case(expected="many"), out("3"))
    assert bad_ref.value is None and "no number in the reference" in (bad_ref.error or "")
    no_ref = await score("numeric", case(), out("3"))
    assert no_ref.value is None and "needs a reference" in (no_ref.error or "")


# -- JSON -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a": 1}', "whole output"),
        ("  [1, 2, 3]\n", "whole output"),
        ('Sure:\n```json\n{"a": 1}\n```\nDone.', "json code block"),
        ('```\n{"a": 1}\n```', "plain code block"),
        ('```json\n{"a": {"b": [1, 2]}}', "json code block"),  # cut off before the fence closed
        ('The result is {"name": "x", "tags": ["a"]} as asked.', "embedded at character 14"),
        ('See [1]. Then ["a", "b"].', "embedded at character 14"),
        ('use {braces} then {"ok": true}', "embedded at character 18"),
    ],
)
def test_find_json(text: str, where: str) -> None:
    found = find_json(text).found
    assert found and found[0].where == where


@pytest.mark.parametrize("text", ["", "plain text", "see [1] and [2, 3]", "{not json}", "{'a': 1}"])
def test_no_json(text: str) -> None:
    assert find_json(text).found == []


async def test_json_valid() -> None:
    good = await score("json_valid", case(), out('Here you go:\n```json\n{"city": "Paris"}\n```'))
    assert good.value == 1.0 and good.details["keys"] == ["city"]
    broken = await score("json_valid", case(), out('```json\n{"city": "Paris",}\n```'))
    assert broken.value == 0.0
    assert "json code block" in (broken.reason or "") and "line 1" in (broken.reason or "")
    prose = await score("json_valid", case(), out("Paris is the capital [1]."))
    assert prose.value == 0.0 and "no JSON" in (prose.reason or "")


PERSON = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "pets": {"type": "array", "items": {"type": "object", "required": ["name"]}},
    },
}


async def test_json_schema() -> None:
    spec = {"name": "json_schema", "args": {"schema": PERSON}}
    good = await score(spec, case(), out('```json\n{"name": "Ada", "age": 36}\n```'))
    assert good.value == 1.0 and "matches the schema" in (good.reason or "")
    wrong_type = await score(spec, case(), out('{"name": "Ada", "age": "36"}'))
    assert wrong_type.value == 0.0 and "$.age" in (wrong_type.reason or "")
    nested = await score(spec, case(), out('{"name": "A", "age": 1, "pets": [{"name": "x"}, {}]}'))
    assert nested.value == 0.0 and "$.pets[1]" in (nested.reason or "")
    missing = await score(spec, case(), out('{"name": "Ada"}'))
    assert missing.value == 0.0 and "'age' is a required property" in (missing.reason or "")
    assert missing.details["errors"][0]["path"] == "$"
    second = await score(
        spec, case(), out('Draft {"name": 1} then final {"name": "Ada", "age": 3}')
    )
    assert second.value == 1.0
    nothing = await score(spec, case(), out("no json here"))
    assert nothing.value == 0.0 and "no JSON" in (nothing.reason or "")


# -- tool_called -------------------------------------------------------------------------------


async def test_tool_called_modes() -> None:
    expected = case(expected_tools=["calculator", "clock"])
    half = await score("tool_called", expected, out("x", tools=["calculator", "calculator"]))
    assert half.value == 0.5 and "missing clock" in (half.reason or "")
    assert half.details["called"] == ["calculator", "calculator"]
    both = await score("tool_called", expected, out("x", tools=["clock", "echo", "calculator"]))
    assert both.value == 1.0
    any_mode = {"name": "tool_called", "args": {"mode": "any"}}
    assert (await score(any_mode, expected, out("x", tools=["clock"]))).value == 1.0
    assert (await score(any_mode, expected, out("x", tools=["echo"]))).value == 0.0
    exact = {"name": "tool_called", "args": {"mode": "exact"}}
    assert (await score(exact, expected, out("x", tools=["clock", "calculator"]))).value == 1.0
    extra = await score(exact, expected, out("x", tools=["clock", "calculator", "echo"]))
    assert extra.value == 0.0 and "unexpected echo" in (extra.reason or "")
    override = {"name": "tool_called", "args": {"tools": "echo"}}
    assert (await score(override, expected, out("x", tools=["echo"]))).value == 1.0


async def test_tool_called_none_and_missing() -> None:
    no_tools = {"name": "tool_called", "args": {"mode": "none"}}
    assert (await score(no_tools, case(), out("4"))).value == 1.0
    assert (await score(no_tools, case(), out("4", tools=["calculator"]))).value == 0.0
    not_search = {"name": "tool_called", "args": {"mode": "none", "tools": ["web_search"]}}
    assert (await score(not_search, case(), out("x", tools=["clock"]))).value == 1.0
    searched = await score(not_search, case(), out("x", tools=["web_search"]))
    assert searched.value == 0.0 and "web_search" in (searched.reason or "")
    missing = await score("tool_called", case(), out("x", tools=["clock"]))
    assert missing.value is None and "needs expected tools" in (missing.error or "")
    nothing_expected = await score("tool_called", case(expected_tools=[]), out("x"))
    assert nothing_expected.value == 1.0
    exact_none = {"name": "tool_called", "args": {"mode": "exact"}}
    assert (await score(exact_none, case(expected_tools=[]), out("x", tools=["echo"]))).value == 0.0
