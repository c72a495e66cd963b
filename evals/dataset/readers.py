"""Readers: JSONL, JSON, YAML, CSV text or a DataFrame to raw records, each with its place.

A reader parses only; it returns the records it could read and the problems it met (bad syntax,
unknown columns, unparsable cells). Validating a record as a case is :mod:`.validation`'s job.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml  # type: ignore[import-untyped, unused-ignore]

from evals.dataset._common import _FIELDS, _Record, _shown, _type_name
from evals.dataset.model import DatasetError, DatasetProblem

if TYPE_CHECKING:
    from pandas import DataFrame  # type: ignore[import-untyped, unused-ignore]

_NAME_LIST_FIELDS = ("tags", "expected_tools", "scorers")  # cells may be `a;b` in CSV/DataFrame
_JSON_FIELDS = ("contexts", "metadata")  # cells must be JSON in CSV/DataFrame


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
        # _YamlLoader is a SafeLoader subclass
        data = yaml.load(text, Loader=_YamlLoader)  # noqa: S506  # nosec B506
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
