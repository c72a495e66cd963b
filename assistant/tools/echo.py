"""The built-in ``echo`` tool: returns its input, for tests and debugging."""

from __future__ import annotations

from collections.abc import Iterable

from langchain_core.tools import BaseTool

from assistant.config import Settings
from assistant.tools.framework import make_tool


def echo(text: str) -> str:
    """Return the text unchanged (for testing tool calls).

    Args:
        text: The text to return.
    """
    return text


def create_tools(settings: Settings) -> Iterable[BaseTool]:
    """Entry point of the built-in ``echo`` tool."""
    return [make_tool(echo, timeout=settings.tools.timeout, example={"text": "hello"})]
