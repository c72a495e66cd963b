"""Text scorers: ``exact``, ``contains`` and ``regex`` (deterministic, 0 or 1)."""

from __future__ import annotations

import re

from evals.scorers.base import BaseScorer, clip
from evals.scorers.registry import register_scorer
from evals.types import Case, Score, TargetOutput

_NO_REFERENCE = "needs a reference: set the case's `expected` or the scorer's `{arg}` argument"


@register_scorer("exact")
class ExactScorer(BaseScorer):
    """The output equals the reference answer (``case.expected`` unless ``expected`` is given).

    Case-insensitive by default; ``strip`` ignores leading and trailing whitespace.
    """

    def __init__(
        self, expected: str | None = None, case_sensitive: bool = False, strip: bool = True
    ) -> None:
        self.expected = expected
        self.case_sensitive = case_sensitive
        self.strip = strip

    def _normal(self, text: str) -> str:
        text = text.strip() if self.strip else text
        return text if self.case_sensitive else text.casefold()

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """1 when the normalised output equals the normalised reference, else 0."""
        expected = self.expected if self.expected is not None else case.expected
        if expected is None:
            return self.failed(_NO_REFERENCE.format(arg="expected"))
        if self._normal(output.output) == self._normal(expected):
            return self.result(1.0, f"output matches {clip(expected)}")
        return self.result(0.0, f"output {clip(output.output)} differs from {clip(expected)}")


@register_scorer("contains")
class ContainsScorer(BaseScorer):
    """The output contains a text: ``text`` (one, or a list that must all appear), ``all`` (all
    must appear), ``any`` (one must appear), else ``case.expected``.

    Case-insensitive by default. The value is 1 or 0; ``details`` lists what was found.
    """

    def __init__(
        self,
        text: str | list[str] | None = None,
        all: list[str] | None = None,
        any: list[str] | None = None,
        case_sensitive: bool = False,
    ) -> None:
        # `all` and `any` shadow the builtins here on purpose: they are the names used in specs.
        given = [name for name, value in (("text", text), ("all", all), ("any", any)) if value]
        if len(given) > 1:
            raise ValueError(f"give only one of 'text', 'all' and 'any' (got {', '.join(given)})")
        for name, value in (("text", text), ("all", all), ("any", any)):
            if value is not None and (value == [] or not _all_non_empty(value)):
                raise ValueError(f"argument '{name}' must hold non-empty texts")
        self.texts: list[str] | None
        self.mode = "any" if any else "all"
        if any:
            self.texts = list(any)
        elif all:
            self.texts = list(all)
        elif text is not None:
            self.texts = [text] if isinstance(text, str) else list(text)
        else:
            self.texts = None
        self.case_sensitive = case_sensitive

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """1 when the texts are found as the mode requires, else 0."""
        texts = self.texts
        if texts is None:
            if not case.expected:
                return self.failed(_NO_REFERENCE.format(arg="text"))
            texts = [case.expected]
        haystack = output.output if self.case_sensitive else output.output.casefold()
        found = [t for t in texts if (t if self.case_sensitive else t.casefold()) in haystack]
        missing = [t for t in texts if t not in found]
        details = {"found": found, "missing": missing, "mode": self.mode}
        if self.mode == "any":
            if found:
                return self.result(1.0, f"found {clip(found[0])}", **details)
            return self.result(0.0, f"none of {len(texts)} texts found", **details)
        if not missing:
            what = clip(texts[0]) if len(texts) == 1 else f"all {len(texts)} texts"
            return self.result(1.0, f"found {what}", **details)
        listed = ", ".join(clip(t, 40) for t in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return self.result(0.0, f"missing {listed}{more}", **details)


_FLAGS = {
    "i": re.IGNORECASE,
    "m": re.MULTILINE,
    "s": re.DOTALL,
    "x": re.VERBOSE,
    "a": re.ASCII,
}


@register_scorer("regex")
class RegexScorer(BaseScorer):
    """The output matches ``pattern`` (searched anywhere); with ``must_match=False`` it passes
    when the pattern is absent (canary and safety checks).

    ``flags`` is a string of ``i`` (ignore case), ``m`` (multiline), ``s`` (dot matches
    newline), ``x`` (verbose), ``a`` (ASCII).
    """

    def __init__(self, pattern: str, flags: str = "", must_match: bool = True) -> None:
        compiled = 0
        for letter in flags:
            if letter not in _FLAGS:
                raise ValueError(
                    f"argument 'flags': unknown flag {letter!r} (use {', '.join(_FLAGS)})"
                )
            compiled |= _FLAGS[letter]
        try:
            self.regex = re.compile(pattern, compiled)
        except re.error as exc:
            raise ValueError(f"argument 'pattern': invalid regular expression: {exc}") from None
        self.must_match = must_match

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """1 when presence matches ``must_match``, else 0; the match is recorded."""
        match = self.regex.search(output.output)
        shown = f"/{self.regex.pattern}/"
        if match is None:
            details: dict[str, object] = {"matched": None}
            if self.must_match:
                return self.result(0.0, f"pattern {clip(shown)} not found", **details)
            return self.result(1.0, f"pattern {clip(shown)} absent, as required", **details)
        details = {"matched": match.group(0), "at": match.start()}
        if self.must_match:
            return self.result(1.0, f"matched {clip(match.group(0))}", **details)
        return self.result(
            0.0, f"forbidden pattern {clip(shown)} found: {clip(match.group(0))}", **details
        )


def _all_non_empty(value: str | list[str]) -> bool:
    texts = [value] if isinstance(value, str) else value
    return all(isinstance(t, str) and t != "" for t in texts)
