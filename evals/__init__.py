"""The eval harness: datasets, scorers, a runner that stores every result in DuckDB, statistics.

Public API (``evals.__all__``) for notebooks and scripts::

    from evals import evaluate, load_dataset, open_store, leaderboard, compare

    summary = await evaluate("tool_use", ["local:smollm2", "assistant"])
    with open_store() as store:
        board = leaderboard(store.frame([summary.run_id]))
"""

from evals.api import evaluate, open_store, run_options, scorer_factory
from evals.calls import Call, call_table, calls_made, check_calls
from evals.dataset import Dataset, DatasetError, list_datasets, load_dataset
from evals.report import render_html
from evals.runner import EvalError, RunOptions, RunSummary, run_eval
from evals.scorers import build_scorer, register_scorer, scorer_names
from evals.stats import Selector, by_tag, compare, gate, leaderboard, mean_ci, results_frame
from evals.store import EvalStore, RunInfo, StoreError
from evals.targets import resolve_target
from evals.types import Case, CaseResult, Score, ScorerSpec, TargetOutput

__all__ = [
    "Call",
    "Case",
    "CaseResult",
    "Dataset",
    "DatasetError",
    "EvalError",
    "EvalStore",
    "RunInfo",
    "RunOptions",
    "RunSummary",
    "Score",
    "ScorerSpec",
    "Selector",
    "StoreError",
    "TargetOutput",
    "build_scorer",
    "by_tag",
    "call_table",
    "calls_made",
    "check_calls",
    "compare",
    "evaluate",
    "gate",
    "leaderboard",
    "list_datasets",
    "load_dataset",
    "mean_ci",
    "open_store",
    "register_scorer",
    "render_html",
    "resolve_target",
    "results_frame",
    "run_eval",
    "run_options",
    "scorer_factory",
    "scorer_names",
]
