"""The ``tool_called`` scorer: which tools the target called, from its trajectory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from evals.scorers.base import BaseScorer
from evals.scorers.registry import register_scorer
from evals.types import Case, Score, TargetOutput

Mode = Literal["all", "any", "exact", "none"]


@register_scorer("tool_called")
class ToolCalledScorer(BaseScorer):
    """The target called the expected tools (``tools``, else ``case.expected_tools``).

    Modes, on the set of distinct tool names called (order and repeats ignored):

    - ``all`` (default): value = fraction of the expected tools called (1 when none expected);
    - ``any``: 1 when at least one expected tool was called;
    - ``exact``: 1 when the tools called are exactly the expected ones, no more, no fewer;
    - ``none``: 1 when none of the listed tools was called; with no list, when no tool was
      called at all (e.g. a question the model should answer alone).

    A failed tool call still counts as called: it shows the choice the model made.

    With ``calls``, a sequence of expected calls is matched instead of names: each item is
    ``{"name", "args": {...}, "count": N}``, where ``args`` is a subset of the arguments the
    call must have (equal values) and ``count`` how many such calls there must be, exactly
    (``0``: none; default: at least one). The value is the share of items satisfied; with
    ``ordered``, the items must appear in that order (the value is the share matched before
    the first out of order); with mode ``exact``, any call that matches no item makes it 0.
    Calls the model asked for but that never ran (a case's functions, offered to a raw model)
    count too.
    """

    def __init__(
        self,
        tools: list[str] | str | None = None,
        mode: Mode = "all",
        calls: list[dict[str, Any]] | None = None,
        ordered: bool = False,
    ) -> None:
        if isinstance(tools, str):
            tools = [tools]
        if tools is not None and not all(name.strip() for name in tools):
            raise ValueError("argument 'tools' must hold non-empty tool names")
        self.tools = tools
        self.mode = mode
        self.calls = (
            None if calls is None else [_expected_call(item, i) for i, item in enumerate(calls)]
        )
        self.ordered = ordered

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """Compare the tools called with the expected ones as :attr:`mode` says."""
        if self.calls is not None:
            return self._match_calls(_calls_in_order(output.trajectory))
        expected = self.tools if self.tools is not None else case.expected_tools
        called_in_order = output.tools_called
        called = list(dict.fromkeys(called_in_order))
        details: dict[str, object] = {"called": called_in_order, "mode": self.mode}
        shown = ", ".join(called) or "no tool"
        if self.mode == "none":
            forbidden = expected or []
            details["forbidden"] = forbidden
            hits = [name for name in called if name in forbidden] if forbidden else called
            if hits:
                return self.result(0.0, f"called {', '.join(hits)}, which it should not", **details)
            what = "none of " + ", ".join(forbidden) if forbidden else "no tool"
            return self.result(1.0, f"called {what}, as required", **details)
        if expected is None:
            return self.failed(
                "needs expected tools: set the case's `expected_tools` or the scorer's `tools`"
            )
        wanted = list(dict.fromkeys(expected))
        details["expected"] = wanted
        hit = [name for name in wanted if name in called]
        missing = [name for name in wanted if name not in called]
        if self.mode == "all":
            if not wanted:
                return self.result(1.0, f"no tool expected (called {shown})", **details)
            value = len(hit) / len(wanted)
            if not missing:
                return self.result(value, f"called all of {', '.join(wanted)}", **details)
            return self.result(
                value,
                f"called {len(hit)} of {len(wanted)} expected tools; missing "
                f"{', '.join(missing)} (called {shown})",
                **details,
            )
        if self.mode == "any":
            if not wanted:
                return self.failed("mode 'any' needs at least one expected tool")
            if hit:
                return self.result(1.0, f"called {', '.join(hit)}", **details)
            return self.result(
                0.0, f"called none of {', '.join(wanted)} (called {shown})", **details
            )
        extra = [name for name in called if name not in wanted]
        if not missing and not extra:
            return self.result(1.0, f"called exactly {', '.join(wanted) or 'no tool'}", **details)
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if extra:
            problems.append(f"unexpected {', '.join(extra)}")
        return self.result(0.0, "; ".join(problems), **details)

    def _match_calls(self, made: list[tuple[str, dict[str, Any]]]) -> Score:
        """Expected call items (name, argument subset, count) against the calls made.

        ``count`` means exactly that many matching calls (0: none), in both modes; without it,
        at least one. With :attr:`ordered`, each item's first matching call must also come
        after the previous item's; the value is then the share of items satisfied before the
        first one that is not.
        """
        assert self.calls is not None  # noqa: S101 - only called with calls set
        details: dict[str, Any] = {
            "called": [f"{name}({_args_text(args)})" for name, args in made],
            "ordered": self.ordered,
        }
        problems: list[str] = []
        satisfied = 0
        last_position = -1
        for item in self.calls:
            positions = [index for index, call in enumerate(made) if _fits(call, item)]
            wanted = item["count"]
            problem = None
            if wanted is None and not positions:
                problem = f"{_item_text(item)} not called"
            elif wanted is not None and len(positions) != wanted:
                problem = f"{_item_text(item)} called {len(positions)}x, expected {wanted}x"
            elif self.ordered and positions and positions[0] <= last_position:
                problem = f"{_item_text(item)} called before the call expected ahead of it"
            if problem is not None:
                problems.append(problem)
                if self.ordered:
                    break
                continue
            satisfied += 1
            if positions:
                last_position = positions[0]
        value = satisfied / len(self.calls) if self.calls else 1.0
        if problems:
            reason = "; ".join(problems)
            if self.ordered:
                reason = (
                    f"matched {satisfied} of {len(self.calls)} expected calls in order; {reason}"
                )
        else:
            shown = ", ".join(
                f"{_item_text(item)}" + (" (not called, as required)" if item["count"] == 0 else "")
                for item in self.calls
            )
            reason = f"called {shown or 'nothing'}" + (" in order" if self.ordered else "")
        if self.mode == "exact":
            extra = [call for call in made if not any(_fits(call, item) for item in self.calls)]
            if extra:
                name, args = extra[0]
                value, reason = 0.0, f"unexpected call {name}({_args_text(args)})"
        return self.result(value, reason, **details)


def _expected_call(item: Any, index: int) -> dict[str, Any]:
    where = f"argument 'calls'[{index}]"
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
        raise ValueError(f'{where} must be {{"name", "args", "count"}} with a tool name')
    unknown = set(item) - {"name", "args", "count"}
    if unknown:
        raise ValueError(f"{where}: unknown key '{sorted(unknown)[0]}' (keys: name, args, count)")
    args = item.get("args") or {}
    if not isinstance(args, Mapping):
        raise ValueError(f"{where}.args must be an object (a subset of the call's arguments)")
    count = item.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise ValueError(f"{where}.count must be a whole number >= 0")
    return {"name": item["name"], "args": dict(args), "count": count}


def _calls_in_order(trajectory: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """Tool calls in order: those that ran, and those the model asked for that never ran."""
    ran = {getattr(step, "call_id", None) for step in trajectory if step.kind == "tool"}
    made: list[tuple[str, dict[str, Any]]] = []
    for step in trajectory:
        if step.kind == "tool":
            made.append((step.name, dict(step.args)))
        elif step.kind == "model":
            for record in step.tool_calls:
                if record.get("id") not in ran or record.get("id") is None:
                    args = record.get("args")
                    made.append(
                        (str(record.get("name")), dict(args) if isinstance(args, Mapping) else {})
                    )
    return made


def _fits(call: tuple[str, dict[str, Any]], item: Mapping[str, Any]) -> bool:
    name, args = call
    return name == item["name"] and all(
        key in args and args[key] == value for key, value in item["args"].items()
    )


def _args_text(args: Mapping[str, Any]) -> str:
    text = ", ".join(f"{key}={value!r}" for key, value in args.items())
    return text if len(text) <= 80 else text[:79] + "…"


def _item_text(item: Mapping[str, Any]) -> str:
    return f"{item['name']}({_args_text(item['args'])})"
