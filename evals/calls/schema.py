"""Function definitions offered by a case: OpenAI's form, or BFCL's bare form, normalised.

A case's ``tools`` may be written as OpenAI tools (``{"type": "function", "function": {name,
description, parameters}}``) or as the bare ``{name, description, parameters}`` objects the
Berkeley Function Calling Leaderboard (BFCL) uses, whose parameter types are Python-flavoured
(``dict``, ``float``, ``tuple``, ``any``...). Both become OpenAI tools with JSON Schema types,
by the same mapping BFCL applies before it offers them to an OpenAI-style model
(``GORILLA_TO_OPENAPI``): ``dict`` -> ``object``, ``float`` -> ``number`` (with ``"format":
"float"``), ``tuple`` -> ``array``, ``any`` -> ``string``. :func:`normalise_tools` raises
:class:`ToolSchemaError` naming the field at fault.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "FUNCTION_NAME",
    "JSON_TYPES",
    "ToolSchemaError",
    "check_expected_calls",
    "function_of",
    "normalise_expected_calls",
    "normalise_tool",
    "normalise_tools",
]

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""OpenAI's rule for function names (Anthropic's is the same)."""

JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
"""The JSON Schema types a normalised parameter may have."""

_TYPE_ALIASES: dict[str, str] = {
    # BFCL's GORILLA_TO_OPENAPI, for the Python categories and the common aliases
    "dict": "object",
    "float": "number",
    "double": "number",
    "tuple": "array",
    "list": "array",
    "any": "string",
    "bool": "boolean",
    "int": "integer",
    "str": "string",
}


class ToolSchemaError(ValueError):
    """A function definition that cannot be offered; ``field`` is the path at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def normalise_tools(tools: Any) -> list[dict[str, Any]]:
    """Every definition of ``tools`` as an OpenAI tool; names must be unique."""
    if not isinstance(tools, list):
        raise ToolSchemaError(
            "tools", f"must be a list of function definitions (got {_kind(tools)})"
        )
    normalised = [normalise_tool(tool, f"tools[{index}]") for index, tool in enumerate(tools)]
    seen: set[str] = set()
    for index, tool in enumerate(normalised):
        name = tool["function"]["name"]
        if name in seen:
            raise ToolSchemaError(f"tools[{index}].name", f"function '{name}' is defined twice")
        seen.add(name)
    return normalised


def normalise_tool(tool: Any, where: str = "tool") -> dict[str, Any]:
    """One definition as ``{"type": "function", "function": {name, description, parameters}}``."""
    if not isinstance(tool, Mapping):
        raise ToolSchemaError(where, f"must be an object (got {_kind(tool)})")
    if "function" in tool or tool.get("type") == "function":
        if tool.get("type", "function") != "function":
            raise ToolSchemaError(f"{where}.type", "must be 'function'")
        extra = set(tool) - {"type", "function"}
        if extra:
            raise ToolSchemaError(f"{where}.{sorted(extra)[0]}", "unknown field")
        where = f"{where}.function"
        function = tool.get("function")
        if not isinstance(function, Mapping):
            raise ToolSchemaError(where, f"must be an object (got {_kind(function)})")
    else:
        function = tool
    return {"type": "function", "function": _function(dict(function), where)}


def function_of(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The ``function`` part of a normalised tool."""
    function: dict[str, Any] = tool["function"]
    return function


def _function(function: dict[str, Any], where: str) -> dict[str, Any]:
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise ToolSchemaError(f"{where}.name", "must be a non-empty string")
    if not FUNCTION_NAME.match(name):
        hint = " (BFCL's dotted names become underscores: use " if "." in name else ""
        hint = f"{hint}'{name.replace('.', '_')}')" if hint else ""
        raise ToolSchemaError(f"{where}.name", f"'{name}' must match ^[a-zA-Z0-9_-]{{1,64}}${hint}")
    unknown = set(function) - {"name", "description", "parameters", "strict", "response"}
    if unknown:
        raise ToolSchemaError(f"{where}.{sorted(unknown)[0]}", "unknown field")
    description = function.get("description", "")
    if not isinstance(description, str):
        raise ToolSchemaError(
            f"{where}.description", f"must be a string (got {_kind(description)})"
        )
    parameters = function.get("parameters", {"type": "object", "properties": {}})
    result: dict[str, Any] = {"name": name, "description": description}
    result["parameters"] = _parameters(parameters, f"{where}.parameters")
    if "strict" in function:
        if not isinstance(function["strict"], bool):
            raise ToolSchemaError(f"{where}.strict", "must be true or false")
        result["strict"] = function["strict"]
    return result


def _parameters(parameters: Any, where: str) -> dict[str, Any]:
    if not isinstance(parameters, Mapping):
        raise ToolSchemaError(where, f"must be a JSON Schema object (got {_kind(parameters)})")
    schema = _schema(copy.deepcopy(dict(parameters)), where)
    if schema.get("type") != "object":
        raise ToolSchemaError(f"{where}.type", "must be 'object' (or BFCL's 'dict')")
    schema.setdefault("properties", {})
    required = schema.setdefault("required", [])
    if not isinstance(required, list) or not all(isinstance(item, str) for item in required):
        raise ToolSchemaError(f"{where}.required", "must be a list of parameter names")
    for name in required:
        if name not in schema["properties"]:
            raise ToolSchemaError(f"{where}.required", f"names '{name}', which is not a property")
    return schema


MAX_SCHEMA_DEPTH = 32
"""How deeply parameter schemas may nest (properties and items); deeper is an error."""


def _schema(schema: dict[str, Any], where: str, depth: int = 0) -> dict[str, Any]:
    """One (sub)schema with BFCL's types mapped to JSON Schema, recursively."""
    if depth > MAX_SCHEMA_DEPTH:
        raise ToolSchemaError(where, f"nests deeper than {MAX_SCHEMA_DEPTH} levels")
    kind = schema.get("type")
    if isinstance(kind, str):
        mapped = _TYPE_ALIASES.get(kind, kind)
        if mapped not in JSON_TYPES:
            known = ", ".join(sorted(JSON_TYPES | set(_TYPE_ALIASES)))
            raise ToolSchemaError(f"{where}.type", f"unknown type '{kind}' (known: {known})")
        if kind == "float":  # BFCL's FC handlers mark floats so (the checker then wants one)
            schema.setdefault("format", "float")
        schema["type"] = mapped
    elif isinstance(kind, list):
        for index, item in enumerate(kind):
            if not isinstance(item, str) or _TYPE_ALIASES.get(item, item) not in JSON_TYPES:
                raise ToolSchemaError(f"{where}.type[{index}]", f"unknown type {item!r}")
        schema["type"] = [_TYPE_ALIASES.get(item, item) for item in kind]
    elif kind is not None:
        raise ToolSchemaError(f"{where}.type", f"must be a type name (got {_kind(kind)})")
    properties = schema.get("properties")
    if properties is not None:
        if not isinstance(properties, Mapping):
            raise ToolSchemaError(
                f"{where}.properties", f"must be an object (got {_kind(properties)})"
            )
        checked = {}
        for name, sub in properties.items():
            if not isinstance(sub, Mapping):
                raise ToolSchemaError(
                    f"{where}.properties.{name}", f"must be a schema object (got {_kind(sub)})"
                )
            checked[name] = _schema(dict(sub), f"{where}.properties.{name}", depth + 1)
        schema["properties"] = checked
    items = schema.get("items")
    if items is not None:
        if not isinstance(items, Mapping):
            raise ToolSchemaError(f"{where}.items", f"must be a schema object (got {_kind(items)})")
        schema["items"] = _schema(dict(items), f"{where}.items", depth + 1)
    return schema


def normalise_expected_calls(calls: Any) -> list[dict[str, dict[str, list[Any]]]]:
    """Check BFCL's possible-answer form: ``[{function: {param: [acceptable values]}}]``."""
    if not isinstance(calls, list):
        raise ToolSchemaError(
            "expected_calls",
            f"must be a list of {{function: {{param: [values]}}}} (got {_kind(calls)})",
        )
    checked = []
    for index, call in enumerate(calls):
        where = f"expected_calls[{index}]"
        if not isinstance(call, Mapping) or len(call) != 1:
            got = f"{len(call)} keys" if isinstance(call, Mapping) else _kind(call)
            raise ToolSchemaError(
                where, f"must be an object with one key, the function name (got {got})"
            )
        name, params = next(iter(call.items()))
        if not isinstance(params, Mapping):
            raise ToolSchemaError(
                f"{where}.{name}",
                f"must map each parameter to its acceptable values (got {_kind(params)})",
            )
        for param, values in params.items():
            # An empty list is allowed (BFCL's live data has a few): such a call never passes.
            if not isinstance(values, list):
                raise ToolSchemaError(
                    f"{where}.{name}.{param}",
                    "must be a list of acceptable values "
                    f'("" = may be omitted; got {_kind(values)})',
                )
            for position, value in enumerate(values):
                if isinstance(value, Mapping):
                    _check_object_answer(value, f"{where}.{name}.{param}[{position}]")
        checked.append({str(name): {str(param): list(values) for param, values in params.items()}})
    return checked


def _check_object_answer(answer: Mapping[str, Any], where: str) -> None:
    """An acceptable object value lists acceptable values per key, as BFCL's data does:
    ``{"city": ["Paris", "paris"], "unit": ["c", ""]}``, not ``{"city": "Paris"}``."""
    for key, options in answer.items():
        if not isinstance(options, list):
            raise ToolSchemaError(
                f"{where}.{key}",
                f"must be a list of acceptable values for key '{key}' (got {_kind(options)}; "
                f'write {{"{key}": [...]}})',
            )


def check_expected_calls(
    calls: list[dict[str, dict[str, list[Any]]]], tools: list[dict[str, Any]]
) -> None:
    """Each expected call names an offered function.

    A parameter the function does not declare is allowed, as in BFCL's own data: it can only
    be omitted (so the call passes only when ``""`` is among its values).
    """
    functions = {tool["function"]["name"]: tool["function"] for tool in tools}
    for index, call in enumerate(calls):
        name = next(iter(call))
        where = f"expected_calls[{index}].{name}"
        if name not in functions:
            offered = ", ".join(functions) or "none"
            raise ToolSchemaError(
                where, f"function '{name}' is not among the case's tools ({offered})"
            )


def _kind(value: object) -> str:
    names = {str: "string", list: "list", dict: "object", bool: "boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)
