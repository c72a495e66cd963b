"""Ordered, named schema migrations of the eval store.

Each migration runs once, in order, inside a transaction, and is recorded in
``schema_migrations``. Never edit a released migration: add the next one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema."""

    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_runs_results_scores",
        (
            """
            CREATE TABLE runs (
                run_id TEXT PRIMARY KEY,
                created_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ,
                status TEXT NOT NULL,
                dataset_name TEXT NOT NULL,
                dataset_path TEXT,
                dataset_hash TEXT NOT NULL,
                n_cases INTEGER NOT NULL,
                targets JSON NOT NULL,
                repeats INTEGER NOT NULL,
                config JSON NOT NULL,
                git_commit TEXT,
                versions JSON NOT NULL
            )
            """,
            """
            CREATE TABLE results (
                run_id TEXT NOT NULL,
                case_id TEXT NOT NULL,
                target TEXT NOT NULL,
                repeat INTEGER NOT NULL,
                output TEXT NOT NULL,
                error TEXT,
                latency_s DOUBLE NOT NULL,
                ttft_s DOUBLE,
                prompt_tokens INTEGER NOT NULL,
                completion_tokens INTEGER NOT NULL,
                cost_usd DOUBLE,
                tags JSON NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (run_id, case_id, target, repeat)
            )
            """,
            """
            CREATE TABLE scores (
                run_id TEXT NOT NULL,
                case_id TEXT NOT NULL,
                target TEXT NOT NULL,
                repeat INTEGER NOT NULL,
                scorer TEXT NOT NULL,
                value DOUBLE,
                reason TEXT,
                error TEXT,
                PRIMARY KEY (run_id, case_id, target, repeat, scorer)
            )
            """,
        ),
    ),
    Migration(
        "0002_trajectories_and_score_details",
        (
            "ALTER TABLE results ADD COLUMN trajectory JSON DEFAULT '[]'",
            "ALTER TABLE scores ADD COLUMN details JSON DEFAULT '{}'",
        ),
    ),
    Migration(
        "0003_cases",
        (
            """
            CREATE TABLE cases (
                run_id TEXT NOT NULL,
                case_id TEXT NOT NULL,
                prompt TEXT NOT NULL,
                input JSON NOT NULL,
                expected TEXT,
                PRIMARY KEY (run_id, case_id)
            )
            """,
        ),
    ),
    Migration(
        "0004_case_functions",
        ("ALTER TABLE cases ADD COLUMN functions JSON",),
    ),
)
