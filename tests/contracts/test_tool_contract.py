"""The contract every registered tool keeps: built-ins, plugins and users' tools alike.

Each tool: a valid OpenAI function schema, a documented example call that succeeds (or, for an
unavailable tool, answers with the setting to change), a JSON-serialisable result, and a clear
error for bad arguments, both outside the agent (``ToolError``) and inside it (error text).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from langchain_core.tools import BaseTool

from assistant.config import Settings
from assistant.errors import ToolError
from assistant.tools import Tool, ToolRegistry

BUILT_INS = {"calculator", "current_time", "echo", "web_search"}
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _registry() -> ToolRegistry:
    return ToolRegistry.from_settings(Settings())


TOOLS = sorted(tool.name for tool in _registry())


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return _registry()


def _bad_arguments(tool: BaseTool) -> dict[str, Any]:
    """A value of the wrong type for every parameter (plus a required one left out if any)."""
    properties = tool.tool_call_schema.model_json_schema().get("properties", {})  # type: ignore[union-attr]
    return {name: {"not": ["a", "valid", "value"]} for name in properties} or {"unexpected": 1}


def test_every_built_in_is_registered() -> None:
    assert set(TOOLS) >= BUILT_INS


@pytest.mark.parametrize("name", TOOLS)
def test_schema_is_a_valid_function(registry: ToolRegistry, name: str) -> None:
    tool = registry.get(name)
    assert isinstance(tool, Tool)
    schema = tool.json_schema()
    assert schema["type"] == "function"
    function = schema["function"]
    assert NAME.match(function["name"]) and function["name"] == name
    assert function["description"].strip(), "the description is the model's only guide"
    parameters = function["parameters"]
    assert parameters["type"] == "object"
    for prop, spec in parameters.get("properties", {}).items():
        assert spec.get("description"), f"{name}.{prop} has no description (Args: section)"
    for required in parameters.get("required", []):
        assert required in parameters["properties"]


@pytest.mark.parametrize("name", TOOLS)
async def test_example_call_gives_a_json_serialisable_result(
    registry: ToolRegistry, name: str
) -> None:
    tool = registry.get(name)
    assert isinstance(tool, Tool) and tool.example is not None, f"{name} has no example"
    availability = tool.availability()
    if not availability.available:
        with pytest.raises(ToolError, match=re.escape(availability.reason or "")):
            await registry.run(name, tool.example)
        return
    result = await registry.run(name, tool.example)
    assert isinstance(result, str) and result
    json.dumps(result)


@pytest.mark.parametrize("name", TOOLS)
async def test_bad_arguments_are_a_clear_error(registry: ToolRegistry, name: str) -> None:
    tool = registry.get(name)
    bad = _bad_arguments(tool)
    with pytest.raises(ToolError, match=f"invalid arguments for {name}"):
        await registry.run(name, bad)
    # inside the agent the same failure is text for the model, never an exception
    text = await tool.ainvoke(bad)
    assert isinstance(text, str) and f"invalid arguments for {name}" in text


@pytest.mark.parametrize("name", TOOLS)
async def test_tool_message_in_an_agent_call(registry: ToolRegistry, name: str) -> None:
    tool = registry.get(name)
    assert isinstance(tool, Tool) and tool.example is not None
    call = {"name": name, "args": tool.example, "id": "call_1", "type": "tool_call"}
    message = await tool.ainvoke(call)
    assert message.tool_call_id == "call_1"
    assert isinstance(message.content, str) and message.content
