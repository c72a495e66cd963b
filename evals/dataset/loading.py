"""Loading: find a dataset (file, bundled name or DataFrame), read and validate it, or list them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

import evals
from evals.dataset._common import _type_name
from evals.dataset.model import Dataset, DatasetError, DatasetProblem
from evals.dataset.readers import _read_dataframe, _read_file
from evals.dataset.validation import _validate
from evals.types import Case, ScorerSpec

if TYPE_CHECKING:
    from pandas import DataFrame  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "SUPPORTED_SUFFIXES",
    "case_json_schema",
    "datasets_dirs",
    "list_datasets",
    "load_dataset",
]

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".yaml", ".yml", ".csv")
"""File extensions :func:`load_dataset` reads; a bare name is looked up with each, in order."""

_BARE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


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
            or ``.csv`` file; a folder of such files (their cases in file-name order, e.g.
            ``datasets/bfcl``: ids must be unique across them); a bare name such as
            ``"tool_use"``, found in the repo's
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
        if path.is_dir():
            cases, problems = [], []
            for file in _dataset_files(path):
                records, file_problems = _read_file(file, _label(file))
                cases += _validate(records, _label(file), file_problems)
                problems += file_problems
            if problems:
                raise DatasetError(problems)
            return Dataset(name or path.resolve().name, cases, path, defaults)
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
        if not _dataset_files(path):
            message = f"is a folder without dataset files ({', '.join(SUPPORTED_SUFFIXES)})"
            raise DatasetError([DatasetProblem(_label(path), message)])
        return path
    if isinstance(source, str) and _BARE_NAME.match(source):
        bundled = list_datasets()
        if source in bundled:
            return bundled[source]
        known = ", ".join(sorted(bundled)) or "none"
        message = f"no dataset file and no bundled dataset of that name (bundled: {known})"
        raise DatasetError([DatasetProblem(source, message)])
    raise DatasetError([DatasetProblem(_label(path), "dataset file not found")])


def _dataset_files(folder: Path) -> list[Path]:
    """The dataset files directly in ``folder``, by name."""
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES
    )


def _label(path: Path) -> str:
    """How a path is shown in problems: relative to the working directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
