"""The ``numeric`` scorer and the number extraction it relies on.

:func:`extract_number` takes the **last** number written in free text, the way an answer
usually ends on its result ("1234 * 5678 = 7,006,652"). It reads:

- thousands grouped with commas (``1,234,567``) or spaces, including no-break and thin spaces
  (``7 006 652``): a group is exactly three digits after a first group of one to three;
- signs, including the Unicode minus U+2212 (``-3.5``), not the hyphen of a range (``10-20``
  gives 20);
- decimals and exponents (``0.25``, ``.5``, ``1e6``, ``6.02E23``);
- a currency sign before the digits (``$12``, ``-€3``) and a percent sign after (``50%`` is 50,
  not 0.5).

Limits, on purpose: no decimal comma (``3,5`` reads as 3 and 5), no number words ("twelve",
"1.5 million" is 1.5), no fractions (``3/4`` ends on 4), and digits glued to letters
(``H2O``, ``v2``) are not numbers. Spaced groups can join two numbers (``2 100`` is 2100).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from evals.scorers.base import BaseScorer, clip
from evals.scorers.registry import register_scorer
from evals.types import Case, Score, TargetOutput

_GROUP_SPACES = " \u00a0\u202f\u2009"
_NUMBER = re.compile(
    rf"""
    (?<![\w.])                                    # not glued to a word or a decimal point
    (?P<sign>[-+\u2212])?
    (?P<currency>[$€£¥])?
    (?P<body>
        \d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?                    # 1,234,567.89
      | \d{{1,3}}(?:[{_GROUP_SPACES}]\d{{3}})+(?:\.\d+)?    # 7 006 652
      | \d+(?:\.\d+)?(?:[eE][-+]?\d+)?                  # 1234.5, 1e6
      | \.\d+(?:[eE][-+]?\d+)?                          # .5
    )
    (?!\d)
    (?P<percent>\s?%)?
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class ExtractedNumber:
    """A number found in text, with the text it was read from."""

    value: float
    text: str
    percent: bool = False


def extract_number(text: str) -> ExtractedNumber | None:
    """The last number written in ``text`` (see the module docstring), or ``None``."""
    matches = list(_NUMBER.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    body = last.group("body").replace(",", "")
    for space in _GROUP_SPACES:
        body = body.replace(space, "")
    value = float(body)
    if last.group("sign") in ("-", "\u2212"):
        value = -value
    return ExtractedNumber(
        value=value, text=last.group(0).strip(), percent=last.group("percent") is not None
    )


def _shown(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


@register_scorer("numeric")
class NumericScorer(BaseScorer):
    """The last number in the output equals the last number of the reference, within
    ``tolerance`` (absolute, or relative with ``relative=True``).

    The reference is ``case.expected`` unless ``expected`` is given.
    """

    def __init__(
        self,
        tolerance: float = 1e-6,
        relative: bool = False,
        expected: float | str | None = None,
    ) -> None:
        if not math.isfinite(tolerance) or tolerance < 0:
            raise ValueError(f"argument 'tolerance' must be a finite number >= 0, not {tolerance}")
        self.tolerance = tolerance
        self.relative = relative
        self.expected = expected

    def _reference(self, case: Case) -> ExtractedNumber | str:
        """The expected number, or why there is none."""
        if isinstance(self.expected, float | int):
            return ExtractedNumber(float(self.expected), _shown(float(self.expected)))
        source = self.expected if self.expected is not None else case.expected
        if source is None:
            return "needs a reference: set the case's `expected` or the scorer's `expected`"
        found = extract_number(source)
        return found if found is not None else f"no number in the reference {clip(source)}"

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """1 when the numbers agree within the tolerance, 0 otherwise or when none is found."""
        reference = self._reference(case)
        if isinstance(reference, str):
            return self.failed(reference)
        details: dict[str, object] = {
            "expected": reference.value,
            "expected_text": reference.text,
            "tolerance": self.tolerance,
            "relative": self.relative,
        }
        found = extract_number(output.output)
        if found is None:
            return self.result(
                0.0,
                f"no number in the output (expected {_shown(reference.value)})",
                extracted=None,
                **details,
            )
        details |= {"extracted": found.value, "extracted_text": found.text}
        if self.relative:
            close = math.isclose(found.value, reference.value, rel_tol=self.tolerance)
        else:
            close = abs(found.value - reference.value) <= self.tolerance
        read = f"read {_shown(found.value)}"
        if found.text != _shown(found.value):
            read += f" (from {clip(found.text, 40)})"
        kind = "relative" if self.relative else "absolute"
        if close:
            return self.result(1.0, f"{read}, equal to {_shown(reference.value)}", **details)
        return self.result(
            0.0,
            f"{read}, expected {_shown(reference.value)} ({kind} tolerance {self.tolerance:g})",
            **details,
        )
