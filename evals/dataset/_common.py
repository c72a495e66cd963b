"""Helpers shared by the dataset modules: the case fields, short value descriptions, raw records.

Everything here is private to :mod:`evals.dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evals.types import Case

_FIELDS = tuple(Case.model_fields)
_SHOWN_LIMIT = 60


def _shown(value: object) -> str:
    """``repr`` of a value, cut short: errors never echo a huge input."""
    text = repr(value)
    return text if len(text) <= _SHOWN_LIMIT else text[: _SHOWN_LIMIT - 3] + "..."


def _type_name(value: object) -> str:
    names = {str: "string", list: "list", dict: "object", bool: "boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


@dataclass(slots=True)
class _Record:
    """One raw case before validation, with where it came from."""

    data: Any
    line: int | None = None
    item: int | None = None
