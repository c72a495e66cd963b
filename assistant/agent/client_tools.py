"""Client tools: functions a caller offers the agent for one run, which it never executes.

An eval case (or an API client) may offer functions the workbench has no implementation of.
:class:`ClientToolsMiddleware` offers them to the model beside the profile's own tools, and
when the model calls one, the turn ends there with the call recorded (the caller executes it,
or grades it): the agent does not run it and does not go on. With no client tools in the run's
:class:`~assistant.agent.middleware.RunContext`, it does nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.agents.middleware.types import hook_config
from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from assistant.agent.middleware import RunContext


def client_tool_names(context: RunContext | None) -> set[str]:
    """Names of the functions the run's caller offered."""
    if context is None:
        return set()
    return {str(tool.get("function", tool).get("name")) for tool in context.client_tools}


def _run_context(runtime: Any) -> RunContext | None:
    context = getattr(runtime, "context", None)
    return context if isinstance(context, RunContext) else None


class ClientToolsMiddleware(AgentMiddleware[Any, Any]):
    """Offers the run's client tools to the model; a call to one ends the turn, unexecuted."""

    def _offer(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        context = _run_context(request.runtime)
        if context is None or not context.client_tools:
            return request
        return request.override(tools=[*request.tools, *context.client_tools])

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> Any:
        return handler(self._offer(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> Any:
        return await handler(self._offer(request))

    @staticmethod
    def _end_on_client_call(state: Any, runtime: Runtime[Any]) -> dict[str, Any] | None:
        names = client_tool_names(_run_context(runtime))
        if not names:
            return None
        last = next((m for m in reversed(state["messages"]) if isinstance(m, AIMessage)), None)
        if last is None:
            return None
        called = [call["name"] for call in last.tool_calls]
        called += [str(call.get("name")) for call in last.invalid_tool_calls]
        return {"jump_to": "end"} if any(name in names for name in called) else None

    @hook_config(can_jump_to=["end"])
    def after_model(self, state: Any, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """End the turn when the model called a client tool."""
        return self._end_on_client_call(state, runtime)

    @hook_config(can_jump_to=["end"])
    async def aafter_model(self, state: Any, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """End the turn when the model called a client tool."""
        return self._end_on_client_call(state, runtime)
