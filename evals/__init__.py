"""Eval harness (datasets, scorers, runner, DuckDB store): arrives with issue 4.

The public API is ``evals.__all__``; it is empty until the harness lands.
"""

__all__: list[str] = []
