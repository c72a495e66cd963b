"""Tools the agent can call: the framework, the registry and the built-ins.

See :mod:`assistant.tools.framework` for writing a tool and
:mod:`assistant.tools.registry` for how tools are found.
"""

from assistant.tools.framework import DEFAULT_TIMEOUT, Tool, make_tool, tool
from assistant.tools.registry import ToolInfo, ToolRegistry

__all__ = ["DEFAULT_TIMEOUT", "Tool", "ToolInfo", "ToolRegistry", "make_tool", "tool"]
