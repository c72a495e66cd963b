"""Structured output for the embedded model: ``response_format`` as a llama.cpp grammar.

The grammar only lets the model write JSON that follows the schema, so a whole answer always
parses and validates (one cut short by ``max_tokens`` is reported as ``finish_reason:
"length"``, as OpenAI does). A schema the converter cannot express is a 400 naming the part it
could not, never a silently weaker constraint.
"""

from __future__ import annotations

import functools
import json
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


@functools.lru_cache(maxsize=64)
def _grammar_for(schema: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return str(json_schema_to_gbnf(schema))
    except (ValueError, AssertionError, KeyError, TypeError, RecursionError) as exc:
        detail = str(exc) or type(exc).__name__
        raise InvalidRequestError(
            f"The embedded model cannot follow this JSON schema: unsupported schema feature "
            f"({detail[:200]}).",
            param=SCHEMA_PARAM,
            code="unsupported_schema",
        ) from None
