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

Modules: :mod:`~evals.dataset.model` (:class:`Dataset`, :class:`DatasetError`),
:mod:`~evals.dataset.readers` (one reader per format), :mod:`~evals.dataset.validation` (records
to cases, problems explained) and :mod:`~evals.dataset.loading` (:func:`load_dataset`,
:func:`list_datasets`, :func:`case_json_schema`); every public name is re-exported here.
"""

from evals.dataset.loading import (
    SUPPORTED_SUFFIXES,
    case_json_schema,
    datasets_dirs,
    list_datasets,
    load_dataset,
)

# Not in __all__ (it never was) but importable from here; the alias marks the re-export.
from evals.dataset.model import MAX_PROBLEMS_SHOWN as MAX_PROBLEMS_SHOWN
from evals.dataset.model import Dataset, DatasetError, DatasetProblem

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
