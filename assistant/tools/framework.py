"""What a tool is: a typed Python function the model can call.

Write a function with type hints and a Google-style docstring, and decorate it with
:func:`tool`. Its name, description and JSON schema come from the function: the summary line
of the docstring describes the tool, the ``Args:`` section describes each argument, and the
signature gives types and defaults. The result is a LangChain ``StructuredTool`` (a
:class:`Tool`), so agents, notebooks and the registry all use it the same way.

Every call is guarded:

- arguments are validated against the schema before the function runs;
- the call has a time limit (``timeout``); a sync function runs in a worker thread so it never
  blocks the event loop (a Python thread cannot be killed: CPU-heavy tools should use a
  process, as the calculator does);
- any failure (bad arguments, an exception, a timeout, an unavailable tool) becomes a short
  error text that goes back to the model as the tool's answer; the agent never crashes on it.
  Outside the agent, :meth:`Tool.arun_checked` raises :class:`~assistant.errors.ToolError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, ValidationError

from assistant.errors import ToolError
from assistant.types import Availability

DEFAULT_TIMEOUT = 10.0
"""Seconds a tool may run when neither the tool nor the settings say otherwise."""

F = TypeVar("F", bound=Callable[..., Any])


def describe_validation_error(name: str, error: ValidationError) -> str:
    """One line naming the first bad argument, without echoing its value."""
    first = error.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "arguments"
    return f"invalid arguments for {name}: {where}: {first['msg']}"


class Tool(StructuredTool):
    """A guarded tool: validated arguments, a time limit, and errors returned as text."""

    timeout: float = DEFAULT_TIMEOUT
    """Seconds one call may take."""
    availability_check: Callable[[], Availability] | None = None
    """Tells whether the tool can run now (e.g. a URL is configured), and why not."""
    example: dict[str, Any] | None = None
    """Arguments of a typical call: shown in docs and forms, exercised by the contract tests."""

    def availability(self) -> Availability:
        """Whether the tool can run now; unavailable tools are listed, and answer with why."""
        if self.availability_check is None:
            return Availability(True)
        return self.availability_check()

    def json_schema(self) -> dict[str, Any]:
        """The tool in OpenAI's function format."""
        from langchain_core.utils.function_calling import convert_to_openai_tool

        return convert_to_openai_tool(self)

    async def arun_checked(self, arguments: dict[str, Any]) -> Any:
        """Validate ``arguments`` and run the tool; raise :class:`ToolError` on any failure."""
        assert self.coroutine is not None  # noqa: S101 - every Tool is built with a coroutine
        args_schema = self.args_schema
        if isinstance(args_schema, type) and issubclass(args_schema, BaseModel):
            try:
                validated = args_schema.model_validate(arguments)
            except ValidationError as exc:
                raise ToolError(describe_validation_error(self.name, exc)) from None
            # the validated values (e.g. "5" coerced to 5), for the arguments actually given
            arguments = {name: getattr(validated, name) for name in validated.model_fields_set}
        try:
            return await self.coroutine(**arguments)
        except ToolException as exc:
            raise ToolError(str(exc)) from None


@functools.cache
def _thread_pool() -> concurrent.futures.ThreadPoolExecutor:
    """Worker threads for sync tools, created on first use."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="tool")


def _unavailable(name: str, check: Callable[[], Availability] | None) -> ToolException | None:
    if check is None:
        return None
    availability = check()
    if availability.available:
        return None
    return ToolException(f"{name} is unavailable: {availability.reason or 'not configured'}")


MAX_ERROR_CHARS = 500
"""Longest error text handed to the model: one failure must not fill a small context."""


def _failure(name: str, exc: BaseException) -> ToolException:
    if isinstance(exc, ToolException | ToolError):
        text = str(exc)
    else:
        text = f"{name} failed: {type(exc).__name__}: {exc}"
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return ToolException(text)


def _as_text(value: Any) -> Any:
    """Results the model reads: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _guarded(
    func: Callable[..., Any], name: str, timeout: float, check: Callable[[], Availability] | None
) -> tuple[Callable[..., Any], Callable[..., Awaitable[Any]]]:
    """Sync and async entry points that enforce availability, the time limit and error text."""
    is_async = inspect.iscoroutinefunction(func)

    async def arun(**kwargs: Any) -> Any:
        if (problem := _unavailable(name, check)) is not None:
            raise problem
        try:
            if is_async:
                result = await asyncio.wait_for(func(**kwargs), timeout)
            else:
                loop = asyncio.get_running_loop()
                call = functools.partial(func, **kwargs)
                result = await asyncio.wait_for(loop.run_in_executor(_thread_pool(), call), timeout)
        except TimeoutError:
            raise ToolException(f"{name} timed out after {timeout:g}s") from None
        except Exception as exc:
            raise _failure(name, exc) from exc
        return _as_text(result)

    def run(**kwargs: Any) -> Any:
        if (problem := _unavailable(name, check)) is not None:
            raise problem
        if is_async:
            future = _thread_pool().submit(asyncio.run, arun(**kwargs))
            return future.result()
        try:
            result = _thread_pool().submit(func, **kwargs).result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise ToolException(f"{name} timed out after {timeout:g}s") from None
        except Exception as exc:
            raise _failure(name, exc) from exc
        return _as_text(result)

    return run, arun


def make_tool(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    availability: Callable[[], Availability] | None = None,
    example: dict[str, Any] | None = None,
) -> Tool:
    """Turn a typed, documented function into a :class:`Tool`."""
    tool_name = name or func.__name__
    if not (description or inspect.getdoc(func)):
        raise ValueError(f"tool {tool_name} needs a docstring (it is the model's only guide)")
    schema_source = StructuredTool.from_function(
        func=func if not inspect.iscoroutinefunction(func) else None,
        coroutine=func if inspect.iscoroutinefunction(func) else None,
        name=tool_name,
        description=description,
        parse_docstring=True,
    )
    run, arun = _guarded(func, tool_name, timeout, availability)

    def on_validation_error(error: ValidationError) -> str:
        return describe_validation_error(tool_name, error)

    return Tool(
        name=tool_name,
        description=" ".join(schema_source.description.split()),  # one line: fewer tokens
        args_schema=schema_source.args_schema,
        func=run,
        coroutine=arun,
        timeout=timeout,
        availability_check=availability,
        example=example,
        handle_tool_error=True,
        handle_validation_error=on_validation_error,
    )


@overload
def tool(func: F, /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    availability: Callable[[], Availability] | None = None,
    example: dict[str, Any] | None = None,
) -> Callable[[F], Tool]: ...


def tool(
    func: F | None = None,
    /,
    *,
    name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    availability: Callable[[], Availability] | None = None,
    example: dict[str, Any] | None = None,
) -> Tool | Callable[[F], Tool]:
    """Decorator: ``@tool`` or ``@tool(timeout=5)`` turns a function into a :class:`Tool`.

    Example::

        @tool
        def shout(text: str) -> str:
            \"\"\"Repeat the text in capitals.

            Args:
                text: What to repeat.
            \"\"\"
            return text.upper()
    """

    def decorate(function: F) -> Tool:
        return make_tool(
            function, name=name, timeout=timeout, availability=availability, example=example
        )

    if func is not None:
        return decorate(func)
    return decorate
