"""The DuckDB eval store: runs, append-only results and scores, named migrations."""

from evals.store.migrations import MIGRATIONS, Migration
from evals.store.store import EvalStore, RunInfo, StoreError

__all__ = ["MIGRATIONS", "EvalStore", "Migration", "RunInfo", "StoreError"]
