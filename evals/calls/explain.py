"""The expected calls against the calls made, parameter by parameter (tables for notebooks).

:func:`call_table` pairs each expected call with the call made that matches it (as
``call_match`` would pair them), or else the first unused call of the same function, or else
the next unused call, and lays out every parameter: the acceptable values, the value given,
and whether it passes with the reason. Calls no expected call took come last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evals.calls.checker import Call, check_call, compare_params

__all__ = ["call_table"]

Expected = Mapping[str, Mapping[str, Sequence[Any]]]


def _pairs(
    calls: Sequence[Call], expected: Sequence[Expected], by_name: Mapping[str, Any]
) -> list[tuple[int | None, int | None]]:
    """(expected index, call index) pairs: matches first, then by name, then in order."""
    used: set[int] = set()
    chosen: dict[int, int] = {}
    for position, answer in enumerate(expected):
        name = next(iter(answer))
        for index, call in enumerate(calls):
            if index not in used and check_call(call, answer, by_name.get(name)).valid:
                chosen[position] = index
                used.add(index)
                break
    for rule in ("name", "any"):
        for position, answer in enumerate(expected):
            if position in chosen:
                continue
            name = next(iter(answer))
            for index, call in enumerate(calls):
                if index not in used and (rule == "any" or call.name == name):
                    chosen[position] = index
                    used.add(index)
                    break
    pairs: list[tuple[int | None, int | None]] = [
        (position, chosen.get(position)) for position in range(len(expected))
    ]
    pairs += [(None, index) for index in range(len(calls)) if index not in used]
    return pairs


def call_table(
    calls: Sequence[Call],
    expected: Sequence[Expected],
    functions: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """One row per parameter of each (expected call, call made) pair.

    Columns: ``call`` (1-based position of the expected call, or ``extra``), ``expected
    function``, ``called function``, ``param``, ``acceptable`` (the values, ``""`` meaning it
    may be omitted), ``given`` (the value, or ``—`` when omitted), ``ok`` and ``why``.
    """
    by_name = {str(function.get("name")): function for function in functions}
    rows: list[dict[str, Any]] = []
    for position, index in _pairs(calls, expected, by_name):
        call = calls[index] if index is not None else None
        answer = expected[position] if position is not None else None
        label = str(position + 1) if position is not None else "extra"
        wanted = next(iter(answer)) if answer is not None else "—"
        made = call.name if call is not None else "—"
        base = {"call": label, "expected function": wanted, "called function": made}
        if call is None:
            rows.append({**base, "param": "—", "acceptable": "", "given": "—", "ok": False,
                         "why": "no call made for it"})  # fmt: skip
            continue
        if answer is None:
            rows.append({**base, "param": "—", "acceptable": "", "given": call.arguments,
                         "ok": False, "why": "no expected call left for it"})  # fmt: skip
            continue
        if call.args is None:
            rows.append({**base, "param": "—", "acceptable": "", "given": call.arguments,
                         "ok": False, "why": call.error or "arguments unusable"})  # fmt: skip
            continue
        if call.name != wanted:
            rows.append({**base, "param": "—", "acceptable": "", "given": "", "ok": False,
                         "why": f"wrong function: expected {wanted}"})  # fmt: skip
            continue
        for check in compare_params(call, answer, by_name.get(wanted)):
            rows.append(
                {
                    **base,
                    "param": check.param,
                    "acceptable": "" if check.expected is None else repr(check.expected),
                    "given": repr(check.got) if check.given else "—",
                    "ok": check.ok,
                    "why": check.reason,
                }
            )
    return rows
