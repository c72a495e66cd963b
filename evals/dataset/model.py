"""The dataset model: :class:`Dataset` (validated cases, filtering, content hash) and its errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evals.dataset._common import _shown
from evals.types import Case, ScorerSpec

__all__ = ["MAX_PROBLEMS_SHOWN", "Dataset", "DatasetError", "DatasetProblem"]

MAX_PROBLEMS_SHOWN = 20
"""How many problems a :class:`DatasetError` message lists (``.problems`` has them all)."""


@dataclass(frozen=True, slots=True)
class DatasetProblem:
    """One thing wrong with a dataset, and where: ``str()`` gives ``file:line: field 'x': ...``."""

    source: str
    """The file as given (relative to the working directory when under it), or ``DataFrame``."""
    message: str
    """What is wrong, without the location."""
    line: int | None = None
    """1-based line where the case starts (JSONL, CSV, YAML, JSON), when known."""
    item: int | None = None
    """1-based position of the case in a YAML/JSON list or a DataFrame, when that is the unit."""
    field: str | None = None
    """The field at fault, as a path: ``input``, ``scorers[1].name``; ``None`` for the record."""

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        if self.item is not None:
            where += f": {'row' if self.source == 'DataFrame' else 'item'} {self.item}"
        what = self.message if self.field is None else f"field '{self.field}': {self.message}"
        return f"{where}: {what}"


class DatasetError(ValueError):
    """A dataset that cannot be used: missing, unreadable, or with invalid cases.

    The message lists the first :data:`MAX_PROBLEMS_SHOWN` problems, one per line;
    :attr:`problems` holds every one of them.
    """

    def __init__(self, problems: Sequence[DatasetProblem], *, summary: str | None = None) -> None:
        self.problems: list[DatasetProblem] = list(problems)
        """Every problem found, in file order."""
        lines = [str(problem) for problem in self.problems[:MAX_PROBLEMS_SHOWN]]
        if len(self.problems) > MAX_PROBLEMS_SHOWN:
            lines.append(f"... and {len(self.problems) - MAX_PROBLEMS_SHOWN} more")
        if summary is None and len(self.problems) > 1:
            summary = f"{self.problems[0].source}: {len(self.problems)} problems"
        super().__init__("\n".join([summary, *lines] if summary else lines))


_OPTIONAL_SINCE_HASHING = ("tools", "expected_calls", "call_order")
"""Fields added after datasets were first hashed: left out when unset, so old hashes hold."""


def _canonical(case: Case) -> dict[str, object]:
    data = case.model_dump(mode="json")
    for name in _OPTIONAL_SINCE_HASHING:
        if data.get(name) is None:
            data.pop(name, None)
    return data


@dataclass(eq=False)
class Dataset:
    """A named, validated list of cases, with the scorers that apply to cases naming none."""

    name: str
    """Short name (the file stem by default), shown in reports and stored with each run."""
    cases: list[Case] = field(repr=False)
    """The cases, in file order; ids are unique."""
    path: Path | None = None
    """The file the cases came from, or ``None`` (a DataFrame, or cases built in code)."""
    default_scorers: list[ScorerSpec] = field(default_factory=list)
    """Scorers for cases whose ``scorers`` is ``None``; ``[]`` means no defaults."""

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        problems = []
        for position, case in enumerate(self.cases, start=1):
            if case.id in seen:
                message = f"duplicate id {_shown(case.id)} (first at item {seen[case.id]})"
                problems.append(DatasetProblem(self.name, message, item=position))
            seen.setdefault(case.id, position)
        if problems:
            raise DatasetError(problems)

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the cases' canonical JSON: equal data, equal hash, whatever the format.

        Keys are sorted and every field is present (defaults filled in), so key order, the file
        format and scorers written as a name or as ``{"name": ...}`` do not change it; case order
        does. Default scorers are not data and are not hashed.
        """
        canonical = json.dumps(
            [_canonical(case) for case in self.cases],
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def tags(self) -> list[str]:
        """Every tag used by a case, sorted."""
        return sorted({tag for case in self.cases for tag in case.tags})

    def scorers_for(self, case: Case) -> list[ScorerSpec]:
        """The scorers to run on ``case``: its own if set (even ``[]``), else the defaults."""
        return list(case.scorers) if case.scorers is not None else list(self.default_scorers)

    def filter(
        self,
        tags: str | Iterable[str] | None = None,
        *,
        ids: Iterable[str] | None = None,
        match_all: bool = False,
    ) -> Dataset:
        """The cases with any of ``tags`` (all, with ``match_all``) and, if given, one of ``ids``.

        ``None`` for either means no condition on it. The result keeps the name, path and
        default scorers; its :attr:`hash` is that of the cases kept.
        """
        wanted = {tags} if isinstance(tags, str) else set(tags) if tags is not None else None
        id_set = set(ids) if ids is not None else None

        def keep(case: Case) -> bool:
            if id_set is not None and case.id not in id_set:
                return False
            if wanted is None:
                return True
            has = wanted.intersection(case.tags)
            return has == wanted if match_all else bool(has)

        kept = [case for case in self.cases if keep(case)]
        return Dataset(self.name, kept, self.path, list(self.default_scorers))

    def head(self, n: int) -> Dataset:
        """The first ``n`` cases (a quick try of a big dataset)."""
        return Dataset(self.name, self.cases[:n], self.path, list(self.default_scorers))

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, cases={len(self.cases)}, hash={self.hash[:12]!r})"
