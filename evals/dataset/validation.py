"""Validation: raw records to :class:`~evals.types.Case` objects, every fault a located problem."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from evals.calls.schema import ToolSchemaError
from evals.dataset._common import _FIELDS, _SHOWN_LIMIT, _Record, _shown, _type_name
from evals.dataset.model import DatasetProblem
from evals.types import Case


def _validate(records: list[_Record], label: str, problems: list[DatasetProblem]) -> list[Case]:
    cases: list[Case] = []
    first_seen: dict[str, _Record] = {}
    for record in records:
        data = record.data
        if not isinstance(data, dict):
            message = f"expected an object (a case), got {_type_name(data)}"
            problems.append(DatasetProblem(label, message, record.line, record.item))
            continue
        data = _coerced(data)
        case_id = data.get("id")
        if isinstance(case_id, str) and case_id:
            if case_id in first_seen:
                first = first_seen[case_id]
                at = f"line {first.line}" if first.line is not None else f"item {first.item}"
                message = f"duplicate id {_shown(case_id)} (first on {at})"
                problems.append(DatasetProblem(label, message, record.line, record.item))
            else:
                first_seen[case_id] = record
        try:
            cases.append(Case.model_validate(data))
        except ValidationError as error:
            for field_path, message in _explain(error, data):
                problems.append(
                    DatasetProblem(label, message, record.line, record.item, field_path)
                )
    if not records and not problems:
        problems.append(DatasetProblem(label, "no cases"))
    return cases


def _coerced(data: dict[str, Any]) -> dict[str, Any]:
    """Numbers given for ``id`` or ``expected`` become their decimal text, as a CSV cell would."""
    data = dict(data)
    for key in ("id", "expected"):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            data[key] = str(value)
    return data


_UNION_TAGS = ("str", "list[Message]")


def _explain(error: ValidationError, data: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """Pydantic's errors as ``(field path, message)``, one per fault, never echoing the input."""
    explained: list[tuple[str | None, str]] = []
    input_value = data.get("input")
    for detail in error.errors(include_url=False):
        loc = list(detail["loc"])
        kind = detail["type"]
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, ToolSchemaError):  # it knows the exact path inside tools/calls
            explained.append((_field_path([cause.field]), cause.message))
            continue
        if loc and loc[0] == "input" and len(loc) > 1 and loc[1] in _UNION_TAGS:
            # `input` is a string or a messages list: report against the branch that was meant.
            if not isinstance(input_value, str | list):
                if loc[1] == "str":
                    got = _type_name(input_value)
                    message = f"must be a prompt string or a list of messages (got {got})"
                    explained.append(("input", message))
                continue
            if isinstance(input_value, str) != (loc[1] == "str"):
                continue
            loc = [loc[0], *loc[2:]]
        explained.append((_field_path(loc), _message(kind, detail, loc)))
    return explained


def _field_path(loc: Sequence[int | str]) -> str | None:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return (path if len(path) <= _SHOWN_LIMIT else path[: _SHOWN_LIMIT - 3] + "...") or None


def _message(kind: str, detail: Mapping[str, Any], loc: Sequence[int | str]) -> str:
    got = _type_name(detail.get("input"))
    if kind == "extra_forbidden":
        return f"unknown field (fields: {', '.join(_FIELDS)})" if len(loc) == 1 else "unknown field"
    if kind == "model_type" and len(loc) == 2 and loc[0] == "scorers":
        return f'must be a scorer name or a {{"name", "args"}} object (got {got})'
    if kind in ("model_type", "dict_type"):
        return f"must be an object (got {got})"
    if kind == "list_type":
        return f"must be a list (got {got})"
    if kind == "string_type":
        return f"must be a string (got {got})"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "role":
        return "must be one of system, developer, user, assistant"
    message = str(detail["msg"])
    return message.removeprefix("Value error, ")
