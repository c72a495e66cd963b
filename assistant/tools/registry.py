"""The tool registry: built-ins, plugins and the user's own tools, by name.

Tools arrive three ways, all ending in :meth:`ToolRegistry.add`:

1. **Entry points** in the ``assistant.tools`` group (how the built-ins register, and how an
   installable plugin does): the entry point names a tool, a list of tools, or a factory
   ``def tools(settings) -> Iterable[BaseTool]``.
2. **Import paths** in the settings, ``tools.extra = ["my_package.tools:shout"]``, with the
   same three forms.
3. **Code**: ``registry.add(my_tool)`` for a function decorated with :func:`~assistant.tools.tool`
   (a plain documented function is wrapped on the way in).

A plugin that fails to load is logged and skipped; a bad import path in the settings is a
:class:`~assistant.errors.ConfigError`, since the user asked for it by name.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from assistant.config import Settings
from assistant.errors import ConfigError, ToolError
from assistant.tools.framework import Tool, make_tool
from assistant.types import Availability

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "assistant.tools"


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """One tool as ``assistant tools`` and the notebooks list it."""

    name: str
    description: str
    available: bool
    reason: str | None
    parameters: dict[str, Any]
    example: dict[str, Any] | None = None
    """Arguments that show how to call it (for forms and docs)."""


def _availability(tool: BaseTool) -> Availability:
    return tool.availability() if isinstance(tool, Tool) else Availability(True)


def _tools_from(obj: Any, settings: Settings) -> list[BaseTool]:
    """A tool, a list of tools, or a factory called with the settings, as a list of tools."""
    if isinstance(obj, BaseTool):
        return [obj]
    if isinstance(obj, list | tuple):
        return [item for element in obj for item in _tools_from(element, settings)]
    if callable(obj):
        produced = obj(settings)
        if isinstance(produced, BaseTool):
            return [produced]
        return list(produced)
    raise TypeError(f"expected a tool, a list of tools or a factory, got {type(obj).__name__}")


def _import(path: str) -> Any:
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"tools.extra: '{path}' is not 'module:attribute'")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"tools.extra: cannot import '{path}': {exc}") from None


class ToolRegistry:
    """Tools by name."""

    def __init__(self, tools: Iterable[BaseTool | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, BaseTool] = {}
        for tool in tools:
            self.add(tool)

    @classmethod
    def from_settings(cls, settings: Settings, group: str = ENTRY_POINT_GROUP) -> ToolRegistry:
        """Built-ins and plugins from entry points, then ``tools.extra`` import paths."""
        registry = cls()
        for entry_point in sorted(entry_points(group=group), key=lambda ep: ep.name):
            try:
                loaded = _tools_from(entry_point.load(), settings)
            except Exception as exc:  # a broken plugin must not break start-up
                logger.warning("tool plugin %r failed to load: %s", entry_point.name, exc)
                continue
            for tool in loaded:
                registry.add(tool)
        for path in settings.tools.extra:
            try:
                loaded = _tools_from(_import(path), settings)
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(f"tools.extra: '{path}' did not give tools: {exc}") from None
            for tool in loaded:
                registry.add(tool)
        return registry

    def add(self, tool: BaseTool | Callable[..., Any]) -> BaseTool:
        """Register ``tool`` (a documented plain function is wrapped); a later one wins."""
        registered = tool if isinstance(tool, BaseTool) else make_tool(tool)
        if registered.name in self._tools:
            logger.info("tool %s replaced by a later registration", registered.name)
        self._tools[registered.name] = registered
        return registered

    def get(self, name: str) -> BaseTool:
        """The tool called ``name``."""
        try:
            return self._tools[name]
        except KeyError:
            known = ", ".join(sorted(self._tools)) or "none"
            raise ToolError(f"unknown tool '{name}' (known: {known})") from None

    def select(self, names: Iterable[str] | None = None) -> list[BaseTool]:
        """The named tools (all when ``names`` is ``None``); unknown names are an error."""
        if names is None:
            return list(self._tools.values())
        return [self.get(name) for name in names]

    def info(self) -> list[ToolInfo]:
        """Every tool with its availability and parameters, sorted by name."""
        infos = []
        for name in sorted(self._tools):
            tool = self._tools[name]
            availability = _availability(tool)
            infos.append(
                ToolInfo(
                    name=name,
                    description=tool.description,
                    available=availability.available,
                    reason=availability.reason,
                    parameters=convert_to_openai_tool(tool)["function"].get("parameters", {}),
                    example=getattr(tool, "example", None),
                )
            )
        return infos

    async def run(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run one tool outside the agent; any failure is a :class:`ToolError`."""
        tool = self.get(name)
        if isinstance(tool, Tool):
            return await tool.arun_checked(arguments)
        try:
            return await tool.ainvoke(arguments)
        except Exception as exc:
            raise ToolError(f"{name} failed: {exc}") from None

    def __iter__(self) -> Iterator[BaseTool]:
        return iter(self._tools.values())

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)
