"""Eval datasets: load cases from JSONL, JSON, YAML, CSV or a DataFrame, and validate them all.

A dataset is a list of :class:`~evals.types.Case` records. The canonical format is JSONL, one
case per line (``datasets/README.md`` documents every field; ``datasets/case.schema.json`` is
the JSON schema of one case)::

    {"id": "q1", "input": "What is 17 * 23?", "expected": "391", "scorers": ["numeric"]}

:func:`load_dataset` reads a file, a bundled dataset by name (``"tool_use"`` is
``datasets/tool_use.jsonl``) or a pandas DataFrame. It validates every record and reports every
problem at once, each with its file, line and field, in one :class:`DatasetError`: nothing runs
on an invalid dataset.

Scorers are stated per case (``scorers``). Cases without them (``scorers`` absent or ``null``)
get the dataset's :attr:`Dataset.default_scorers`, given as ``load_dataset(..., scorers=[...])``;
``Dataset.scorers_for(case)`` tells which apply. Scorer names are not checked here (the scorer
registry does that): only their shape is.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml  # type: ignore[import-untyped, unused-ignore]
from pydantic import ValidationError

import evals
from evals.types import Case, ScorerSpec

if TYPE_CHECKING:
    from pandas import DataFrame  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Dataset",
    "DatasetError",
    "DatasetProblem",
    "case_json_schema",
    "datasets_dirs",
    "list_datasets",
    "load_dataset",
]

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".yaml", ".yml", ".csv")
"""File extensions :func:`load_dataset` reads; a bare name is looked up with each, in order."""

MAX_PROBLEMS_SHOWN = 20
"""How many problems a :class:`DatasetError` message lists (``.problems`` has them all)."""

_FIELDS = tuple(Case.model_fields)
_NAME_LIST_FIELDS = ("tags", "expected_tools", "scorers")  # cells may be `a;b` in CSV/DataFrame
_JSON_FIELDS = ("contexts", "metadata")  # cells must be JSON in CSV/DataFrame
_BARE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SHOWN_LIMIT = 60


def _shown(value: object) -> str:
    """``repr`` of a value, cut short: errors never echo a huge input."""
    text = repr(value)
    return text if len(text) <= _SHOWN_LIMIT else text[: _SHOWN_LIMIT - 3] + "..."


def _type_name(value: object) -> str:
    names = {str: "string", list: "list", dict: "object", bool: "boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


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
            [case.model_dump(mode="json") for case in self.cases],
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

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, cases={len(self.cases)}, hash={self.hash[:12]!r})"


def case_json_schema() -> dict[str, Any]:
    """The JSON schema of one case (one JSONL line), as written to ``datasets/case.schema.json``.

    It is ``Case.model_json_schema()`` with a title and description, scorers also accepted as
    plain names (``"exact"``) and a non-blank ``input`` required, as the loader does.
    """
    schema = Case.model_json_schema()
    text, messages = schema["properties"]["input"]["anyOf"]
    text["pattern"] = r"\S"  # the model's check: not empty or blank
    messages["minItems"] = 1
    spec_ref = {"$ref": "#/$defs/ScorerSpec"}
    name = {"type": "string", "minLength": 1, "description": "A scorer name, without arguments."}
    scorers = schema["properties"]["scorers"]
    scorers["anyOf"] = [
        {"type": "array", "items": {"anyOf": [name, spec_ref]}},
        {"type": "null"},
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Eval dataset case",
        "description": (
            "One case of an eval dataset: one line of a JSONL dataset file (or one item of a "
            "YAML/JSON list). Generated from evals.types.Case by tools/gen_dataset_schema.py; "
            "see datasets/README.md."
        ),
        **{key: value for key, value in schema.items() if key not in ("title", "description")},
    }


def datasets_dirs() -> list[Path]:
    """Folders searched for a dataset given by bare name: the repo's, then ``./datasets``."""
    bundled = Path(evals.__file__).resolve().parent.parent / "datasets"
    local = Path.cwd() / "datasets"
    return [bundled] if local.resolve() == bundled else [bundled, local]


def list_datasets() -> dict[str, Path]:
    """Datasets loadable by bare name, ``{name: path}``, as :func:`load_dataset` resolves them."""
    found: dict[str, Path] = {}
    for folder in datasets_dirs():
        if not folder.is_dir():
            continue
        for suffix in SUPPORTED_SUFFIXES:
            for path in sorted(folder.glob(f"*{suffix}")):
                if _BARE_NAME.match(path.stem) and path.is_file():
                    found.setdefault(path.stem, path)
    return found


def load_dataset(
    source: str | Path | DataFrame,
    *,
    name: str | None = None,
    scorers: Sequence[str | ScorerSpec | Mapping[str, Any]] | None = None,
) -> Dataset:
    """Load and validate a dataset.

    Args:
        source: A ``.jsonl``, ``.json`` (a list of cases), ``.yaml``/``.yml`` (a list of cases)
            or ``.csv`` file; a bare name such as ``"tool_use"``, found in the repo's
            ``datasets/`` folder, then in ``./datasets``; or a pandas DataFrame whose columns
            are case fields (cells as in a CSV file, or Python lists and dicts).
        name: The dataset's name; default the file stem, or ``"dataframe"``.
        scorers: Default scorers, for cases whose ``scorers`` is absent or ``null``: names or
            ``{"name", "args"}`` objects.

    Raises:
        DatasetError: The file is missing or unreadable, its extension unsupported, or any case
            invalid; the error lists every problem with its line and field.
    """
    defaults = _default_scorers(scorers)
    if isinstance(source, str | Path):
        path = _resolve(source)
        label = _label(path)
        records, problems = _read_file(path, label)
        dataset_name = name or path.stem
    else:
        import pandas as pd

        if not isinstance(source, pd.DataFrame):
            raise TypeError(
                f"expected a path, a dataset name or a DataFrame, got {_type_name(source)}"
            )
        path, label = None, "DataFrame"
        records, problems = _read_dataframe(source)
        dataset_name = name or "dataframe"
    cases = _validate(records, label, problems)
    if problems:
        # File-level problems first, then in file order; sorted() is stable within a case.
        raise DatasetError(sorted(problems, key=lambda p: (p.line or 0, p.item or 0)))
    return Dataset(dataset_name, cases, path, defaults)


# --- locating and reading ------------------------------------------------------------------


@dataclass(slots=True)
class _Record:
    """One raw case before validation, with where it came from."""

    data: Any
    line: int | None = None
    item: int | None = None


def _default_scorers(
    scorers: Sequence[str | ScorerSpec | Mapping[str, Any]] | None,
) -> list[ScorerSpec]:
    if scorers is None:
        return []
    if isinstance(scorers, str | Mapping):
        scorers = [scorers]  # a single scorer given bare
    specs, problems = [], []
    for position, scorer in enumerate(scorers, start=1):
        try:
            if isinstance(scorer, ScorerSpec):
                specs.append(scorer)
            elif isinstance(scorer, str):
                specs.append(ScorerSpec(name=scorer))
            else:
                specs.append(ScorerSpec.model_validate(scorer))
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                path = ".".join(str(part) for part in detail["loc"])
                message = f"default scorer {position}: {path or 'scorer'}: {detail['msg']}"
                problems.append(DatasetProblem("scorers", message))
    if problems:
        raise DatasetError(problems)
    return specs


def _resolve(source: str | Path) -> Path:
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            message = (
                f"unsupported file type {path.suffix!r}: use one of {', '.join(SUPPORTED_SUFFIXES)}"
            )
            raise DatasetError([DatasetProblem(_label(path), message)])
        return path
    if path.is_dir():
        raise DatasetError([DatasetProblem(_label(path), "is a folder, not a dataset file")])
    if isinstance(source, str) and _BARE_NAME.match(source):
        bundled = list_datasets()
        if source in bundled:
            return bundled[source]
        known = ", ".join(sorted(bundled)) or "none"
        message = f"no dataset file and no bundled dataset of that name (bundled: {known})"
        raise DatasetError([DatasetProblem(source, message)])
    raise DatasetError([DatasetProblem(_label(path), "dataset file not found")])


def _label(path: Path) -> str:
    """How a path is shown in problems: relative to the working directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read_file(path: Path, label: str) -> tuple[list[_Record], list[DatasetProblem]]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DatasetError([DatasetProblem(label, f"cannot read: {error.strerror}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{raw[error.start]:02x})"
        raise DatasetError([DatasetProblem(label, message, line=line)]) from None
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _read_jsonl(text, label)
    if suffix == ".json":
        return _read_json(text, label)
    if suffix in (".yaml", ".yml"):
        return _read_yaml(text, label)
    return _read_csv(text, label)


def _read_jsonl(text: str, label: str) -> tuple[list[_Record], list[DatasetProblem]]:
    records, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(_Record(json.loads(line), line=number))
        except json.JSONDecodeError as error:
            message = f"not valid JSON: {error.msg} at column {error.colno}"
            problems.append(DatasetProblem(label, message, line=number))
    return records, problems


def _read_json(text: str, label: str) -> tuple[list[_Record], list[DatasetProblem]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        message = f"not valid JSON: {error.msg} at column {error.colno}"
        return [], [DatasetProblem(label, message, line=error.lineno)]
    if not isinstance(data, list):
        message = f"expected a JSON list of cases, got {_type_name(data)}"
        return [], [DatasetProblem(label, message)]
    lines = _json_item_lines(text)
    return [
        _Record(value, line=lines[index] if index < len(lines) else None, item=index + 1)
        for index, value in enumerate(data)
    ], []


def _json_item_lines(text: str) -> list[int]:
    """The 1-based line where each item of a (valid) top-level JSON list starts."""
    decoder, lines = json.JSONDecoder(), list[int]()
    whitespace = re.compile(r"\s*")

    def skip(index: int) -> int:
        match = whitespace.match(text, index)
        return match.end() if match else index

    index = skip(0) + 1  # past "["
    while True:
        index = skip(index)
        if index >= len(text) or text[index] == "]":
            return lines
        lines.append(text.count("\n", 0, index) + 1)
        _, index = decoder.raw_decode(text, index)
        index = skip(index)
        if index < len(text) and text[index] == ",":
            index += 1


# A safe loader that keeps dates as strings (`2030-01-01` is text, as in JSON); built with
# type() because PyYAML ships no type stubs here and mypy forbids subclassing Any.
_YamlLoader: Any = type("_YamlLoader", (yaml.SafeLoader,), {})
_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml(text: str, label: str) -> tuple[list[_Record], list[DatasetProblem]]:
    try:
        data = yaml.load(text, Loader=_YamlLoader)  # noqa: S506  # nosec B506 - a SafeLoader subclass
        node = yaml.compose(text, Loader=_YamlLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or "cannot be parsed"
        line = mark.line + 1 if mark is not None else None
        return [], [DatasetProblem(label, f"not valid YAML: {reason}", line=line)]
    if data is None:
        return [], []
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        message = f"expected a YAML list of cases, got {_type_name(data)}"
        return [], [DatasetProblem(label, message)]
    lines = [item.start_mark.line + 1 for item in node.value]
    return [
        _Record(value, line=lines[index], item=index + 1) for index, value in enumerate(data)
    ], []


def _read_csv(text: str, label: str) -> tuple[list[_Record], list[DatasetProblem]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[DatasetProblem] = []
    try:
        header = next(reader, None)
        if header is None:
            return [], []
        columns = _columns([cell.strip() for cell in header], label, problems, line=1)
        records, end = [], reader.line_num
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                message = f"{len(row)} cells but the header has {len(header)} columns"
                problems.append(DatasetProblem(label, message, line=start))
                continue
            cells = dict(zip(header, row, strict=False))
            record = _from_cells(
                {column: cells.get(column) for column in columns}, label, problems, start, None
            )
            records.append(_Record(record, line=start))
    except csv.Error as error:
        problems.append(DatasetProblem(label, f"not valid CSV: {error}", line=reader.line_num))
        return [], problems
    return records, problems


def _columns(
    names: Sequence[str], label: str, problems: list[DatasetProblem], *, line: int | None
) -> list[str]:
    """The known columns; an unknown or repeated column is one problem, not one per row."""
    kept: list[str] = []
    for column in names:
        if column in kept:
            problems.append(DatasetProblem(label, f"column {_shown(column)} repeated", line=line))
        elif column not in _FIELDS:
            message = f"unknown column {_shown(column)} (fields: {', '.join(_FIELDS)})"
            problems.append(DatasetProblem(label, message, line=line))
        else:
            kept.append(column)
    if "id" not in kept or "input" not in kept:
        missing = [column for column in ("id", "input") if column not in kept]
        message = f"missing column {' and '.join(repr(c) for c in missing)}"
        problems.append(DatasetProblem(label, message, line=line))
    return kept


def _read_dataframe(frame: DataFrame) -> tuple[list[_Record], list[DatasetProblem]]:
    problems: list[DatasetProblem] = []
    columns = _columns([str(column) for column in frame.columns], "DataFrame", problems, line=None)
    records = []
    for position, row in enumerate(frame.to_dict(orient="records"), start=1):
        cells = {column: _plain(row.get(column)) for column in columns}
        if all(value is None for value in cells.values()):
            continue
        record = _from_cells(cells, "DataFrame", problems, None, position)
        records.append(_Record(record, item=position))
    return records, problems


def _plain(value: Any) -> Any:
    """A DataFrame cell as plain Python: numpy scalars and arrays unwrapped, NaN/NA as ``None``."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()  # numpy scalar or array (list columns read from Parquet)
    if isinstance(value, float) and math.isnan(value):
        return None
    return None if type(value).__name__ in ("NAType", "NaTType") else value


def _from_cells(
    cells: Mapping[str, Any],
    label: str,
    problems: list[DatasetProblem],
    line: int | None,
    item: int | None,
) -> dict[str, Any]:
    """A case from table cells: empty cells left out; list and dict fields parsed from text.

    A cell that cannot be parsed is a problem and is left out, so the rest of the case (its id,
    for the duplicate check) is still validated.
    """
    record: dict[str, Any] = {}
    for column, value in cells.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, str) and column in (*_NAME_LIST_FIELDS, *_JSON_FIELDS, "input"):
            text = value.strip()
            if column == "input":
                value = _messages_or_text(value)
            elif text[:1] in ("[", "{"):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as error:
                    message = f"not valid JSON: {error.msg} at column {error.colno}"
                    problems.append(DatasetProblem(label, message, line, item, column))
                    continue
            elif column in _NAME_LIST_FIELDS:
                separator = ";" if ";" in text else ","
                value = [part.strip() for part in text.split(separator) if part.strip()]
            else:
                message = "must be JSON in a table cell (a list or an object)"
                problems.append(DatasetProblem(label, message, line, item, column))
                continue
        record[column] = value
    return record


def _messages_or_text(value: str) -> str | Any:
    """An ``input`` cell that is a JSON list of message objects is a messages list."""
    if value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        if isinstance(parsed, list) and parsed and all(isinstance(m, dict) for m in parsed):
            return parsed
    return value


# --- validation ------------------------------------------------------------------------------


def _validate(records: list[_Record], label: str, problems: list[DatasetProblem]) -> list[Case]:
    cases: list[Case] = []
    first_seen: dict[str, _Record] = {}
    for record in records:
        data = record.data
        if not isinstance(data, dict):
            message = f"expected an object (a case), got {_type_name(data)}"
            problems.append(DatasetProblem(label, message, record.line, record.item))
            continue
        data = _coerced(data)
        case_id = data.get("id")
        if isinstance(case_id, str) and case_id:
            if case_id in first_seen:
                first = first_seen[case_id]
                at = f"line {first.line}" if first.line is not None else f"item {first.item}"
                message = f"duplicate id {_shown(case_id)} (first on {at})"
                problems.append(DatasetProblem(label, message, record.line, record.item))
            else:
                first_seen[case_id] = record
        try:
            cases.append(Case.model_validate(data))
        except ValidationError as error:
            for field_path, message in _explain(error, data):
                problems.append(
                    DatasetProblem(label, message, record.line, record.item, field_path)
                )
    if not records and not problems:
        problems.append(DatasetProblem(label, "no cases"))
    return cases


def _coerced(data: dict[str, Any]) -> dict[str, Any]:
    """Numbers given for ``id`` or ``expected`` become their decimal text, as a CSV cell would."""
    data = dict(data)
    for key in ("id", "expected"):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            data[key] = str(value)
    return data


_UNION_TAGS = ("str", "list[Message]")


def _explain(error: ValidationError, data: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """Pydantic's errors as ``(field path, message)``, one per fault, never echoing the input."""
    explained: list[tuple[str | None, str]] = []
    input_value = data.get("input")
    for detail in error.errors(include_url=False):
        loc = list(detail["loc"])
        kind = detail["type"]
        if loc and loc[0] == "input" and len(loc) > 1 and loc[1] in _UNION_TAGS:
            # `input` is a string or a messages list: report against the branch that was meant.
            if not isinstance(input_value, str | list):
                if loc[1] == "str":
                    got = _type_name(input_value)
                    message = f"must be a prompt string or a list of messages (got {got})"
                    explained.append(("input", message))
                continue
            if isinstance(input_value, str) != (loc[1] == "str"):
                continue
            loc = [loc[0], *loc[2:]]
        explained.append((_field_path(loc), _message(kind, detail, loc)))
    return explained


def _field_path(loc: Sequence[int | str]) -> str | None:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return (path if len(path) <= _SHOWN_LIMIT else path[: _SHOWN_LIMIT - 3] + "...") or None


def _message(kind: str, detail: Mapping[str, Any], loc: Sequence[int | str]) -> str:
    got = _type_name(detail.get("input"))
    if kind == "extra_forbidden":
        return f"unknown field (fields: {', '.join(_FIELDS)})" if len(loc) == 1 else "unknown field"
    if kind == "model_type" and len(loc) == 2 and loc[0] == "scorers":
        return f'must be a scorer name or a {{"name", "args"}} object (got {got})'
    if kind in ("model_type", "dict_type"):
        return f"must be an object (got {got})"
    if kind == "list_type":
        return f"must be a list (got {got})"
    if kind == "string_type":
        return f"must be a string (got {got})"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "role":
        return "must be one of system, developer, user, assistant"
    message = str(detail["msg"])
    return message.removeprefix("Value error, ")
