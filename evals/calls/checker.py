"""Function calls graded with the semantics of BFCL's AST checker, verdict for verdict.

The Berkeley Function Calling Leaderboard grades a model's calls against "possible answers":
per expected call, ``{function_name: {param: [acceptable values...]}}``, where ``""`` among the
values means the parameter may be omitted. :func:`check_calls` applies the rules of BFCL's
``ast_checker.py`` (``simple_function_checker``, ``parallel_function_checker_no_order`` and
``..._enforce_order``) to calls made through native function calling, so a score here can be
compared with the leaderboard's. The rules, in the order BFCL applies them:

- the number of calls must equal the number of expected calls;
- the function name must be the expected one;
- every required parameter is present; no parameter is given that the function does not
  declare or that the expected call does not list;
- types: Python's ``type(value) == expected`` (so ``True`` is not an integer), except that an
  integer is accepted for a ``number`` (BFCL's ``float``), never the reverse; arrays check one
  level of item types; an expected value whose type differs from the declared one marks the
  parameter a "variable" and the value is then compared as is;
- strings are compared after BFCL's normalisation (lower case; spaces and ``,./-_*^`` removed;
  ``'`` read as ``"``), also inside arrays and objects (one level);
- objects: keys must be among the expected ones and each value acceptable; a key missing is
  allowed only when ``""`` is among its values; arrays of objects are compared element-wise;
- a parameter omitted must have ``""`` among its acceptable values;
- several calls (``order="any"``): expected calls are taken one by one, each matched with the
  first call not yet used that passes (greedy, as BFCL does); ``order="exact"``: position by
  position.

Where BFCL's behaviour is surprising it is kept (see ``docs/evals.md``): comparability with the
leaderboard comes first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

__all__ = [
    "Call",
    "CallOrder",
    "ParamCheck",
    "Verdict",
    "check_call",
    "check_calls",
    "compare_params",
    "describe_expected",
    "no_call_verdict",
    "standardize_string",
]

CallOrder = Literal["any", "exact"]

_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
}
_STANDARDIZE = re.compile(r"[ \,\.\/\-\_\*\^]")


@dataclass(frozen=True, slots=True)
class Call:
    """One function call a model made: its name, raw argument text and decoded arguments."""

    name: str
    arguments: str
    """The arguments as the model wrote them (JSON text)."""
    args: dict[str, Any] | None = None
    """The arguments decoded, or ``None`` when they are not a JSON object."""
    error: str | None = None
    """Why the arguments could not be used (not JSON, not an object)."""

    @classmethod
    def from_arguments(cls, name: str, arguments: str | Mapping[str, Any] | None) -> Call:
        """A call from its argument text (decoded here) or an already decoded mapping."""
        if isinstance(arguments, Mapping):
            args = dict(arguments)
            return cls(name, json.dumps(args, ensure_ascii=False), args)
        text = arguments or ""
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an int too long
            return cls(name, text, None, f"arguments are not valid JSON ({exc})")
        if not isinstance(decoded, dict):
            return cls(name, text, None, "arguments are not a JSON object")
        return cls(name, text, decoded)

    def shown(self) -> str:
        """``name(a=1, b='x')`` (or the raw text when the arguments are unusable)."""
        if self.args is None:
            return f"{self.name}({_short(self.arguments)})"
        inner = ", ".join(f"{key}={value!r}" for key, value in self.args.items())
        return f"{self.name}({_short(inner, 100)})"


@dataclass(frozen=True, slots=True)
class ParamCheck:
    """One parameter of one call, compared with the expected call (for tables in notebooks)."""

    param: str
    expected: list[Any] | None
    """The acceptable values; ``None`` when the expected call does not list the parameter."""
    got: Any
    given: bool
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the calls match, and the first reason they do not (BFCL's error kinds)."""

    valid: bool
    reason: str
    kind: str = ""
    """BFCL's ``error_type`` family, e.g. ``type_error:simple``; empty when valid."""
    details: dict[str, Any] = field(default_factory=dict)


def standardize_string(text: str) -> str:
    """BFCL's string normalisation: no spaces or ``,./-_*^``, lower case, ``'`` as ``"``."""
    return _STANDARDIZE.sub("", text).lower().replace("'", '"')


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _type_name(value: Any) -> str:
    return type(value).__name__


def _described(value: Any) -> str:
    return f"{_short(repr(value))} ({_type_name(value)})"


def _fail(reason: str, kind: str) -> Verdict:
    return Verdict(False, reason, kind)


_OK = Verdict(True, "")


def _answer_type(possible: Sequence[Any]) -> type | None:
    """The type of the first acceptable value that is not ``""`` (BFCL's "variable" rule)."""
    for answer in possible:
        if answer != "":
            return type(answer)
    return None


def _type_check(
    param: str,
    value: Any,
    possible: Sequence[Any],
    described: str,
    expected: type,
    nested: type | None,
) -> tuple[Verdict, bool]:
    """BFCL's ``type_checker``: the verdict and whether the value is a "variable"."""
    answer_type = _answer_type(possible)
    is_variable = answer_type is not None and answer_type != expected
    if type(value) == expected:  # noqa: E721 - exact types, as BFCL compares them
        if nested is None:
            return _OK, is_variable
        for item in possible:
            fits = True
            if type(item) == list:  # noqa: E721
                for element in cast("list[Any]", value):
                    verdict, _ = _type_check(param, element, item, nested.__name__, nested, None)
                    if not verdict.valid:
                        fits = False
                        break
            if fits:
                return _OK, is_variable
        reason = (
            f"param '{param}': expected {described} of {_JSON_NAME.get(nested, nested.__name__)}, "
            f"got {_described(value)}"
        )
        return _fail(reason, "type_error:nested"), is_variable
    if answer_type is not None and type(value) == answer_type:  # noqa: E721
        return _OK, True
    return (
        _fail(
            f"param '{param}': expected {described}, got {_described(value)}", "type_error:simple"
        ),
        is_variable,
    )


_JSON_NAME = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}


def _string_ok(value: str, possible: Sequence[Any]) -> bool:
    wanted = [standardize_string(item) for item in possible if type(item) == str]  # noqa: E721
    return standardize_string(value) in wanted


def _standard(value: Any) -> Any:
    return standardize_string(value) if type(value) == str else value  # noqa: E721


def _list_ok(value: list[Any], possible: Sequence[Any]) -> bool:
    given = [_standard(item) for item in value]
    wanted = []
    for answer in possible:
        # BFCL iterates every acceptable value as a sequence: "" (omittable) becomes [].
        wanted.append([_standard(answer[index]) for index in range(len(answer))])
    return given in wanted


def _dict_verdict(param: str, value: dict[str, Any], possible: Sequence[Any]) -> Verdict:
    verdict = _fail(f"param '{param}': no acceptable value to compare with", "dict_checker:unclear")
    for answer in possible:
        if answer == "":
            continue
        verdict = _OK
        for key, item in value.items():
            if key not in answer:
                verdict = _fail(f"param '{param}': unexpected key '{key}'", "value_error:dict_key")
                break
            wanted = [_standard(option) for option in answer[key]]
            if _standard(item) not in wanted:
                verdict = _fail(
                    f"param '{param}': key '{key}': expected one of {_short(repr(answer[key]))}, "
                    f"got {_described(item)}",
                    "value_error:dict_value",
                )
                break
        if verdict.valid:
            for key, options in answer.items():
                if key not in value and "" not in options:
                    verdict = _fail(f"param '{param}': key '{key}' missing", "value_error:dict_key")
                    break
        if verdict.valid:
            return _OK
    return verdict


def _list_of_dicts_verdict(param: str, value: list[Any], possible: Sequence[Any]) -> Verdict:
    verdict = _fail(f"param '{param}': no acceptable value", "list_dict_checker:unclear")
    for answer in possible:
        if len(value) != len(answer):
            verdict = _fail(
                f"param '{param}': expected {len(answer)} objects, got {len(value)}",
                "value_error:list_dict_count",
            )
            continue
        fits = True
        for index in range(len(value)):
            verdict = _dict_verdict(param, value[index], [answer[index]])
            if not verdict.valid:
                fits = False
                break
        if fits:
            return _OK
    return verdict


def _declared_type(schema: Mapping[str, Any], possible: Sequence[Any] = ()) -> str | None:
    """The parameter's JSON type: declared (one non-null member of a union counts), else the
    type of its acceptable values; ``None`` when neither tells."""
    kind = schema.get("type")
    if isinstance(kind, list):
        members = [member for member in kind if member != "null"]
        kind = members[0] if len(members) == 1 else None
    if isinstance(kind, str) and kind in _PY_TYPES:
        return kind
    answer_type = _answer_type(possible)
    return next((name for name, py in _PY_TYPES.items() if py is answer_type), None)


def _param_verdict(
    param: str, value: Any, schema: Mapping[str, Any], possible: Sequence[Any]
) -> Verdict:
    """One given parameter against its schema and its acceptable values."""
    kind = _declared_type(schema, possible)
    if kind is not None:
        expected: type | None = _PY_TYPES[kind]
        nested = None
        if kind == "array":
            item_kind = _declared_type(schema.get("items") or {})
            nested = _PY_TYPES[item_kind] if item_kind is not None else None
        if kind == "number" and type(value) == int:  # noqa: E721 - an int is a valid float
            value = float(value)
        assert expected is not None  # noqa: S101 - for mypy
        verdict, is_variable = _type_check(param, value, possible, kind, expected, nested)
        if not verdict.valid:
            return verdict
    else:  # no type declared or inferable: the value must be one of the acceptable ones
        expected, nested, is_variable = None, None, True
    if not is_variable:
        if expected is dict:
            return _dict_verdict(param, value, possible)
        if expected is list and nested is dict:
            return _list_of_dicts_verdict(param, value, possible)
        if expected is str:
            if _string_ok(value, possible):
                return _OK
            return _fail(
                f"param '{param}': expected one of {_short(repr(list(possible)))}, "
                f"got {_described(value)}",
                "value_error:string",
            )
        if expected is list:
            if _list_ok(value, possible):
                return _OK
            return _fail(
                f"param '{param}': expected one of {_short(repr(list(possible)))}, "
                f"got {_described(value)}",
                "value_error:list/tuple",
            )
    if value not in possible:
        wanted = _short(repr(list(possible)))
        return _fail(
            f"param '{param}': expected one of {wanted}, got {_described(value)}",
            "value_error:others",
        )
    return _OK


def _guarded_verdict(
    param: str, value: Any, schema: Mapping[str, Any], possible: Sequence[Any]
) -> Verdict:
    """:func:`_param_verdict`, with a value it cannot compare (acceptable values of another
    shape, a number too large for a float) a failure rather than a crash. BFCL's checker
    raises on some of these; a wrong answer is the honest verdict."""
    try:
        return _param_verdict(param, value, schema, possible)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        return _fail(
            f"param '{param}': {_described(value)} cannot be compared with "
            f"{_short(repr(list(possible)))} ({type(exc).__name__})",
            "value_error:incomparable",
        )


def _function_schema(
    function: Mapping[str, Any] | None, answer: Mapping[str, Sequence[Any]]
) -> tuple[dict[str, Any], list[str]]:
    """Declared properties and required names; without a definition, inferred from the answer."""
    if function is not None:
        parameters = function.get("parameters") or {}
        return dict(parameters.get("properties") or {}), list(parameters.get("required") or [])
    properties: dict[str, Any] = {}
    for param, options in answer.items():
        answer_type = _answer_type(options)
        kind = next((name for name, py in _PY_TYPES.items() if py is answer_type), None)
        properties[param] = {"type": kind} if kind else {}
    required = [param for param, options in answer.items() if "" not in options]
    return properties, required


def check_call(
    call: Call,
    expected: Mapping[str, Mapping[str, Sequence[Any]]],
    function: Mapping[str, Any] | None,
) -> Verdict:
    """One call against one expected call (BFCL's ``simple_function_checker``).

    ``expected`` is ``{function_name: {param: [acceptable values]}}``; ``function`` the
    offered definition (the ``function`` part of an OpenAI tool), or ``None`` when the case
    offers none (the types are then inferred from the acceptable values).
    """
    name, answer = next(iter(expected.items()))
    if call.args is None:
        return _fail(f"{call.name}: {call.error}", "ast_decoder:decoder_failed")
    if call.name != name:
        return _fail(
            f"wrong function: expected {name}, got {call.name}",
            "simple_function_checker:wrong_func_name",
        )
    properties, required = _function_schema(function, answer)
    for param in required:
        if param not in call.args:
            return _fail(
                f"param '{param}': required, missing", "simple_function_checker:missing_required"
            )
    for param, value in call.args.items():
        if param not in properties:
            return _fail(
                f"param '{param}': not a parameter of {name}",
                "simple_function_checker:unexpected_param",
            )
        if param not in answer:
            return _fail(
                f"param '{param}': not expected (given {_described(value)})",
                "simple_function_checker:unexpected_param",
            )
        verdict = _guarded_verdict(param, value, properties[param], answer[param])
        if not verdict.valid:
            return verdict
    for param, options in answer.items():
        if param not in call.args and "" not in options:
            return _fail(
                f"param '{param}': omitted, but only {_short(repr(list(options)))} is acceptable",
                "simple_function_checker:missing_optional",
            )
    return Verdict(True, f"{call.shown()} matches")


def no_call_verdict(calls: Sequence[Call]) -> Verdict:
    """BFCL's irrelevance rule: valid when the output holds no decodable function call.

    As in BFCL, an output whose calls do not all decode to JSON objects counts as no call.
    """
    if not calls:
        return Verdict(True, "answered without calling a function")
    unusable = [call for call in calls if call.args is None]
    if unusable:
        first = unusable[0]
        return Verdict(
            True, f"no decodable call ({first.name}: {first.error}); BFCL counts that as no call"
        )
    shown = ", ".join(call.shown() for call in calls[:3])
    return _fail(f"called {shown} where no call was right", "irrelevance_error:decoder_success")


def check_calls(
    calls: Sequence[Call],
    expected: Sequence[Mapping[str, Mapping[str, Sequence[Any]]]],
    functions: Sequence[Mapping[str, Any]] | None = None,
    order: CallOrder = "any",
) -> Verdict:
    """The model's ``calls`` against the ``expected`` calls, BFCL's way.

    ``functions`` are the offered definitions (``function`` parts of OpenAI tools); an empty
    ``expected`` means no call is right (irrelevance). ``order="any"`` matches parallel calls
    in any order (each expected call used once); ``"exact"`` position by position.
    """
    if not expected:
        return no_call_verdict(calls)
    if not calls:
        return _fail(f"no call: expected {describe_expected(expected)}", "wrong_count")
    broken = next((call for call in calls if call.args is None), None)
    if broken is not None:
        return _fail(f"call {broken.name}: {broken.error}", "ast_decoder:decoder_failed")
    if len(calls) != len(expected):
        names = ", ".join(call.name for call in calls[:5])
        return _fail(
            f"expected {len(expected)} call{'s' if len(expected) != 1 else ''}, "
            f"got {len(calls)} ({names})",
            "wrong_count",
        )
    by_name = {str(function.get("name")): function for function in functions or []}
    if order == "exact":
        for position, (call, answer) in enumerate(zip(calls, expected, strict=True), start=1):
            verdict = check_call(call, answer, by_name.get(next(iter(answer))))
            if not verdict.valid:
                prefix = f"call {position}: " if len(expected) > 1 else ""
                return _fail(prefix + verdict.reason, verdict.kind)
        return Verdict(True, _matched(calls))
    used: set[int] = set()
    for position, answer in enumerate(expected, start=1):
        function = by_name.get(next(iter(answer)))
        first_failure: Verdict | None = None
        for index, call in enumerate(calls):
            if index in used:
                continue
            verdict = check_call(call, answer, function)
            if verdict.valid:
                used.add(index)
                break
            first_failure = first_failure or verdict
        else:
            assert first_failure is not None  # noqa: S101 - one call at least is left to try
            if len(expected) == 1:
                return first_failure
            return _fail(
                f"no call matches expected call {position} ({describe_expected([answer])}): "
                f"{first_failure.reason}",
                "parallel_function_checker_no_order:cannot_find_match",
            )
    return Verdict(True, _matched(calls))


def _matched(calls: Sequence[Call]) -> str:
    shown = "; ".join(call.shown() for call in calls[:3])
    more = f" and {len(calls) - 3} more" if len(calls) > 3 else ""
    return f"{shown}{more}: as expected"


def describe_expected(expected: Sequence[Mapping[str, Mapping[str, Sequence[Any]]]]) -> str:
    """``f(a=1|2, b='x')`` for each expected call: what would pass, compactly."""
    shown = []
    for answer in expected[:3]:
        name, params = next(iter(answer.items()))
        inner = ", ".join(
            f"{param}={'|'.join(repr(option) for option in options if option != '') or '…'}"
            + ("?" if "" in options else "")
            for param, options in params.items()
        )
        shown.append(f"{name}({_short(inner, 100)})")
    more = f" and {len(expected) - 3} more" if len(expected) > 3 else ""
    return "; ".join(shown) + more


def compare_params(
    call: Call,
    expected: Mapping[str, Mapping[str, Sequence[Any]]],
    function: Mapping[str, Any] | None,
) -> list[ParamCheck]:
    """Parameter by parameter: what was expected, what the call gave, and whether it passes."""
    _, answer = next(iter(expected.items()))
    properties, required = _function_schema(function, answer)
    args = call.args or {}
    rows: list[ParamCheck] = []
    for param in dict.fromkeys([*answer, *args, *required]):
        options = list(answer[param]) if param in answer else None
        given = param in args
        if not given:
            ok = options is not None and "" in options and param not in required
            reason = (
                "omitted (allowed)"
                if ok
                else "required, missing"
                if param in required
                else "omitted, but not optional"
            )
        elif param not in properties:
            ok, reason = False, "not a parameter of the function"
        elif options is None:
            ok, reason = False, "not expected"
        else:
            verdict = _guarded_verdict(param, args[param], properties[param], options)
            ok, reason = verdict.valid, verdict.reason
        rows.append(ParamCheck(param, options, args.get(param), given, ok, reason))
    return rows
