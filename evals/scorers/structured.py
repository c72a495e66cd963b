"""Structured-output scorers: ``json_valid`` and ``json_schema``, and the JSON finder they share.

Models wrap JSON in prose and code fences, so :func:`find_json` looks, in order, at the whole
output, at each fenced block (```` ```json ```` or a bare fence, closed or cut off), then at
every ``{``/``[`` in the text. Embedded arrays of bare numbers (``[1]``, a citation marker) are
not taken for JSON; a whole output or a fenced block may hold any object or array.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type information

from evals.scorers.base import BaseScorer, clip
from evals.scorers.registry import register_scorer
from evals.types import Case, Score, TargetOutput

JsonValue = dict[str, Any] | list[Any]

_FENCE = re.compile(r"```[ \t]*(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)(?:```|\Z)", re.DOTALL)
_JSON_LANGS = {"", "json", "jsonc", "json5", "javascript", "js"}
_MAX_SCAN_STARTS = 500
"""Embedded candidates tried at most (bounds the work on long outputs full of braces)."""


@dataclass(frozen=True, slots=True)
class FoundJson:
    """A JSON object or array found in an output."""

    value: JsonValue
    where: str
    """``whole output``, ``json code block``, or ``embedded at character N``."""
    start: int = 0
    """Where it starts in the text (the fence's start for a code block)."""


@dataclass(slots=True)
class JsonSearch:
    """What :func:`find_json` found: candidates in order, and why fenced blocks failed."""

    found: list[FoundJson] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def find_json(text: str) -> JsonSearch:
    """Every JSON object or array in ``text``, best candidates first (see the module doc)."""
    search = JsonSearch()
    whole = _loads(text.strip())
    if isinstance(whole, dict | list):
        # The whole output is the JSON: anything the scan would find is a piece of it.
        search.found.append(FoundJson(whole, "whole output", len(text) - len(text.lstrip())))
        return search
    covered: list[tuple[int, int]] = []
    for match in _FENCE.finditer(text):
        lang = match.group("lang").lower()
        if lang not in _JSON_LANGS:
            continue
        label = f"{lang or 'plain'} code block"
        body = match.group("body").strip()
        try:
            value = json.loads(body)
        except json.JSONDecodeError as exc:
            search.errors.append(f"{label}: {exc.msg} (line {exc.lineno}, column {exc.colno})")
            continue
        if isinstance(value, dict | list):
            search.found.append(FoundJson(value, label, match.start()))
            covered.append(match.span())
    decoder = json.JSONDecoder()
    index, tries = 0, 0
    while tries < _MAX_SCAN_STARTS:
        starts = [i for i in (text.find("{", index), text.find("[", index)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        inside = next((end for begin, end in covered if begin <= start < end), None)
        if inside is not None:
            index = inside
            continue
        tries += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        if isinstance(value, dict) or (isinstance(value, list) and not _bare_numbers(value)):
            search.found.append(FoundJson(value, f"embedded at character {start}", start))
            index = end
        else:
            index = start + 1
    return search


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _bare_numbers(value: list[Any]) -> bool:
    return all(isinstance(item, int | float) for item in value)


def _describe(found: FoundJson) -> str:
    if isinstance(found.value, dict):
        return f"JSON object with {len(found.value)} keys ({found.where})"
    return f"JSON array of {len(found.value)} items ({found.where})"


def _not_found(search: JsonSearch) -> str:
    reason = "no JSON object or array found"
    if search.errors:
        reason += "; " + "; ".join(search.errors[:2])
    return reason


@register_scorer("json_valid")
class JsonValidScorer(BaseScorer):
    """The output holds a JSON object or array (whole, in a code fence, or in prose)."""

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """1 when a JSON object or array is found, else 0 (with the parse error of a fence)."""
        search = find_json(output.output)
        if not search.found:
            return self.result(0.0, _not_found(search), errors=search.errors)
        first = search.found[0]
        details: dict[str, Any] = {"where": first.where}
        if isinstance(first.value, dict):
            details["keys"] = list(first.value)[:20]
        return self.result(1.0, _describe(first), **details)


def json_path(parts: Any) -> str:
    """A jsonschema error path as ``$.items[0].name``."""
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


@register_scorer("json_schema")
class JsonSchemaScorer(BaseScorer):
    """The JSON in the output validates against ``schema`` (a JSON Schema, formats checked).

    When the output holds several JSON values, one that validates is enough; otherwise the
    reason names the first failing path of the first candidate.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except jsonschema.exceptions.SchemaError as exc:
            where = json_path(exc.absolute_path)
            raise ValueError(
                f"argument 'schema': invalid JSON Schema at {where}: {exc.message}"
            ) from None
        self.schema = schema
        self.validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """1 when a JSON candidate validates, else 0 naming the first error's path."""
        search = find_json(output.output)
        if not search.found:
            return self.result(0.0, _not_found(search), errors=search.errors)
        first_failure: tuple[FoundJson, list[Any]] | None = None
        for found in search.found:
            errors = list(self.validator.iter_errors(found.value))
            if not errors:
                return self.result(1.0, f"{_describe(found)} matches the schema", where=found.where)
            if first_failure is None:
                first_failure = (found, errors)
        assert first_failure is not None  # noqa: S101 - search.found is not empty
        found, errors = first_failure
        ordered = sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])
        failures = [
            {"path": json_path(e.absolute_path), "message": str(e.message)} for e in ordered[:5]
        ]
        first = failures[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return self.result(
            0.0,
            f"schema error at {first['path']}: {clip(first['message'], 120)}{more}",
            where=found.where,
            errors=failures,
            candidates=len(search.found),
        )
