"""Structured output for the embedded model: ``response_format`` as a llama.cpp grammar.

The grammar only lets the model write JSON that follows the schema, so a whole answer always
parses and validates (one cut short by ``max_tokens`` is reported as ``finish_reason:
"length"``, as OpenAI does). A schema the converter cannot express is a 400 naming the part it
could not, never a silently weaker constraint.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from assistant.errors import InvalidRequestError

SCHEMA_PARAM = "response_format.json_schema.schema"


def response_grammar(response_format: Any) -> str | None:
    """The GBNF grammar for an OpenAI ``response_format`` (``None`` for free text)."""
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise InvalidRequestError(
            '\'response_format\' must be an object such as {"type": "json_object"}',
            param="response_format",
        )
    kind = response_format.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return _grammar_for(json.dumps({"type": "object"}))
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise InvalidRequestError(
                "'response_format.json_schema' needs a 'schema' object", param=SCHEMA_PARAM
            )
        return _grammar_for(json.dumps(schema, sort_keys=True))
    raise InvalidRequestError(
        f"'response_format.type' {kind!r} is not one of text, json_object, json_schema",
        param="response_format.type",
    )


MAX_SIZE_KEYWORD = 4096
"""The largest ``minLength``/``maxLength``/``minItems``/... a schema may ask for: the grammar
spells each bound out, so ``minLength: 100000000`` would build gigabytes."""
MAX_GRAMMAR_CHARS = 200_000
_SIZE_KEYWORDS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties",
                  "maxProperties")  # fmt: skip
_EMPTY_RULE = re.compile(r"^\S+\s*::=\s*$", re.MULTILINE)


def _problem(schema: Any, path: str = "") -> str | None:
    """What makes ``schema`` unusable as a grammar before converting it, if anything."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            found = _problem(item, f"{path}[{index}]")
            if found:
                return found
        return None
    if not isinstance(schema, dict):
        return None
    for keyword in _SIZE_KEYWORDS:
        value = schema.get(keyword)
        if isinstance(value, int | float) and value > MAX_SIZE_KEYWORD:
            return f"'{keyword}' {value} at '{path or '/'}' is over {MAX_SIZE_KEYWORD}"
    for keyword in ("enum", "anyOf", "oneOf", "allOf"):
        if keyword in schema and schema[keyword] == []:
            return f"an empty '{keyword}' at '{path or '/'}' admits no value"
    for key, value in schema.items():
        found = _problem(value, f"{path}/{key}")
        if found:
            return found
    return None


def _unsupported(detail: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"The embedded model cannot follow this JSON schema: unsupported schema feature "
        f"({detail[:200]}).",
        param=SCHEMA_PARAM,
        code="unsupported_schema",
    )


def grammar_for(schema: dict[str, Any]) -> str:
    """The GBNF grammar of a JSON schema, checked (400 :class:`InvalidRequestError` when it
    cannot be one: unsupported, empty, or too large)."""
    return _grammar_for(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=64)
def _grammar_for(schema: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    problem = _problem(json.loads(schema))
    if problem is not None:
        raise _unsupported(problem)
    try:
        grammar = str(json_schema_to_gbnf(schema))
    except Exception as exc:  # the converter's own errors, whatever their class: bad input
        raise _unsupported(str(exc) or type(exc).__name__) from None
    # llama.cpp crashes the process on a rule with no body, and parses huge grammars slowly
    if _EMPTY_RULE.search(grammar):
        raise _unsupported("a part of the schema admits no value")
    if len(grammar) > MAX_GRAMMAR_CHARS:
        raise _unsupported(f"the grammar would take {len(grammar)} characters")
    return grammar
