"""The ``tool_called`` scorer: which tools the target called, from its trajectory."""

from __future__ import annotations

from typing import Literal

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
    """

    def __init__(self, tools: list[str] | str | None = None, mode: Mode = "all") -> None:
        if isinstance(tools, str):
            tools = [tools]
        if tools is not None and not all(name.strip() for name in tools):
            raise ValueError("argument 'tools' must hold non-empty tool names")
        self.tools = tools
        self.mode = mode

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """Compare the tools called with the expected ones as :attr:`mode` says."""
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
