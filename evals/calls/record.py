"""The function calls a target made, read back from its trajectory.

Targets record every model call with the tool calls it asked for (``ModelCallRecord.tool_calls``:
``{"name", "args", "arguments", "id"}``, ``args`` ``None`` and an ``error`` when the arguments
were not a JSON object). For an agent, calls its own tools answered are part of its work, not
its answer: when the case offers functions, calls to other tools that the agent executed are
left out, so ``call_match`` sees the calls to the case's functions (and any function the model
made up).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evals.calls.checker import Call

__all__ = ["calls_from_records", "calls_made"]


def calls_from_records(records: Iterable[Mapping[str, Any]]) -> list[Call]:
    """Trajectory tool-call records as :class:`Call` objects, in order."""
    calls = []
    for record in records:
        name = str(record.get("name") or "")
        args = record.get("args")
        if isinstance(args, Mapping) and "error" not in record:
            calls.append(Call.from_arguments(name, args))
        else:
            raw = record.get("arguments")
            call = Call.from_arguments(name, raw if isinstance(raw, str) else "")
            error = record.get("error")
            if call.args is None and isinstance(error, str) and error:
                call = Call(call.name, call.arguments, None, call.error or error)
            calls.append(call)
    return calls


def calls_made(trajectory: Iterable[Any], offered: Iterable[str] | None = None) -> list[Call]:
    """Every call the model asked for, in order; with ``offered`` (the case's function names),
    calls to the agent's own tools (offered by its profile, or executed) are left out, while
    calls to the case's functions and to names the model made up are kept."""
    steps = list(trajectory)
    names = set(offered) if offered is not None else None
    executed = {
        str(getattr(step, "call_id", ""))
        for step in steps
        if getattr(step, "kind", None) == "tool"
        and (names is None or getattr(step, "name", None) not in names)
    }
    records = []
    for step in steps:
        if getattr(step, "kind", None) != "model":
            continue
        own = set(getattr(step, "tools_offered", [])) - names if names is not None else set()
        for record in getattr(step, "tool_calls", []):
            name = record.get("name")
            if names is None or name in names:
                records.append(record)
            elif name not in own and str(record.get("id")) not in executed:
                records.append(record)  # a function the model made up
    return calls_from_records(records)
