"""The eval store: every run, result and score in one DuckDB file.

One writer per file (the runner). DuckDB locks the file per process: while one process writes,
no other process can open it, not even read-only (``eval list`` during a run fails); readers in
several processes share it, but keep a writer out until they close it (so close notebook stores).
Results are append-only, unique per (run, case, target, repeat): a resumed run skips the keys it
already has, so nothing is lost or duplicated. A file another process holds, or a corrupt one,
is a clear :class:`StoreError`, never a lost run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from assistant.errors import AssistantError
from evals.store.migrations import MIGRATIONS, Migration
from evals.types import Case, CaseResult

logger = logging.getLogger(__name__)


class StoreError(AssistantError):
    """The store cannot be opened or written (locked by another process, corrupt, missing)."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run's record."""

    run_id: str
    created_at: datetime
    finished_at: datetime | None
    status: str
    dataset_name: str
    dataset_path: str | None
    dataset_hash: str
    n_cases: int
    targets: list[str]
    repeats: int
    config: dict[str, Any] = field(default_factory=dict)
    git_commit: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    n_results: int = 0


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _describe(path: Path, error: Exception) -> StoreError:
    text = str(error)
    if "lock" in text.lower():
        return StoreError(
            f"eval store {path} is in use by another process (one writer per file): "
            f"{text.splitlines()[0]}"
        )
    if isinstance(error, duckdb.IOException) and not path.exists():
        return StoreError(f"eval store {path} does not exist")
    return StoreError(
        f"eval store {path} cannot be opened (not a DuckDB file, or corrupt): "
        f"{text.splitlines()[0]}"
    )


class EvalStore:
    """Runs, results and scores in a DuckDB file; a context manager (or call :meth:`close`)."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(f"eval store {self.path} does not exist (no run has been stored yet)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = duckdb.connect(str(self.path), read_only=read_only)
        except (
            duckdb.IOException,
            duckdb.InvalidInputException,
            duckdb.SerializationException,
        ) as exc:
            raise _describe(self.path, exc) from None
        except duckdb.Error as exc:
            raise _describe(self.path, exc) from None
        if not read_only:
            self.migrate()
        elif self.pending_migrations():
            raise StoreError(
                f"eval store {self.path} needs migrations {', '.join(self.pending_migrations())}: "
                "open it once for writing (e.g. run an eval) to upgrade it"
            )

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> EvalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (checkpointing the write-ahead log)."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self._db.execute("BEGIN TRANSACTION")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- migrations -----------------------------------------------------------------------

    def applied_migrations(self) -> list[str]:
        """Names of the migrations this file has, in order."""
        exists = self._db.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        ).fetchone()
        if not exists or not exists[0]:
            return []
        return [
            row[0]
            for row in self._db.execute(
                "SELECT name FROM schema_migrations ORDER BY name"
            ).fetchall()
        ]

    def pending_migrations(self, migrations: Iterable[Migration] = MIGRATIONS) -> list[str]:
        """Names of the migrations this file lacks."""
        applied = set(self.applied_migrations())
        return [m.name for m in migrations if m.name not in applied]

    def migrate(self, migrations: Iterable[Migration] = MIGRATIONS) -> list[str]:
        """Apply the missing migrations in order; return their names."""
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
        )
        applied = set(self.applied_migrations())
        done = []
        for migration in migrations:
            if migration.name in applied:
                continue
            with self._transaction() as db:
                for statement in migration.statements:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?)",
                    [migration.name, datetime.now(UTC)],
                )
            logger.info("eval store %s: applied migration %s", self.path, migration.name)
            done.append(migration.name)
        return done

    # -- runs -----------------------------------------------------------------------------

    def create_run(self, run: RunInfo) -> None:
        """Record a new run (status ``running``)."""
        self._db.execute(
            "INSERT INTO runs VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run.run_id,
                run.created_at,
                run.status,
                run.dataset_name,
                run.dataset_path,
                run.dataset_hash,
                run.n_cases,
                _json(run.targets),
                run.repeats,
                _json(run.config),
                run.git_commit,
                _json(run.versions),
            ],
        )

    def finish_run(self, run_id: str, status: str) -> None:
        """Mark a run ``completed``, ``interrupted`` or ``failed``."""
        self._db.execute(
            "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
            [status, datetime.now(UTC), run_id],
        )

    def reopen_run(self, run_id: str) -> None:
        """Mark a resumed run ``running`` again."""
        self._db.execute(
            "UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?", [run_id]
        )

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        rows = self._db.execute(
            """
            SELECT r.*, (SELECT count(*) FROM results x WHERE x.run_id = r.run_id) AS n_results
            FROM runs r ORDER BY created_at DESC
            """
        ).fetchall()
        return [self._run_info(row) for row in rows]

    def run(self, run_id: str) -> RunInfo:
        """One run; a unique prefix of its id is enough, and ``latest`` is the newest run."""
        if run_id == "latest":
            newest = self._db.execute(
                "SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1"
            ).fetchone()
            if newest is None:
                raise StoreError(f"no run in {self.path} yet")
            run_id = str(newest[0])
        rows = self._db.execute(
            """
            SELECT r.*, (SELECT count(*) FROM results x WHERE x.run_id = r.run_id) AS n_results
            FROM runs r WHERE run_id LIKE ? || '%' ORDER BY created_at DESC
            """,
            [run_id],
        ).fetchall()
        if not rows:
            raise StoreError(f"no run '{run_id}' in {self.path}")
        exact = [row for row in rows if row[0] == run_id]  # an exact id wins, even if older
        if len(rows) > 1 and not exact:
            raise StoreError(f"'{run_id}' matches {len(rows)} runs: give more of the id")
        return self._run_info(exact[0] if exact else rows[0])

    @staticmethod
    def _run_info(row: tuple[Any, ...]) -> RunInfo:
        (
            run_id,
            created,
            finished,
            status,
            name,
            path,
            digest,
            n_cases,
            targets,
            repeats,
            config,
            commit,
            versions,
            n_results,
        ) = row
        return RunInfo(
            run_id=run_id,
            created_at=created,
            finished_at=finished,
            status=status,
            dataset_name=name,
            dataset_path=path,
            dataset_hash=digest,
            n_cases=n_cases,
            targets=json.loads(targets),
            repeats=repeats,
            config=json.loads(config),
            git_commit=commit,
            versions=json.loads(versions),
            n_results=n_results,
        )

    # -- results --------------------------------------------------------------------------

    def add_cases(self, run_id: str, cases: Iterable[Case]) -> None:
        """Record a run's cases (prompt, input, reference, functions offered and expected
        calls) once; known ones are kept."""
        rows = [
            [
                run_id,
                case.id,
                case.prompt(),
                _json(case.messages()),
                case.expected,
                _functions(case),
            ]
            for case in cases
        ]
        if not rows:
            return
        try:
            self._db.register("_cases_batch", _columns(_CASE_COLUMNS, rows))
            with self._transaction() as db:
                db.execute(
                    """
                    INSERT INTO cases SELECT * FROM _cases_batch
                    ON CONFLICT DO NOTHING
                    """
                )
        finally:
            self._db.unregister("_cases_batch")

    def done_keys(self, run_id: str) -> set[tuple[str, str, int]]:
        """(case, target, repeat) keys the run already has: a resume skips them."""
        rows = self._db.execute(
            "SELECT case_id, target, repeat FROM results WHERE run_id = ?", [run_id]
        ).fetchall()
        return {(case, target, int(repeat)) for case, target, repeat in rows}

    def add_results(self, results: Iterable[CaseResult]) -> int:
        """Store results and their scores in one transaction; return how many were stored."""
        now = datetime.now(UTC)
        result_rows: list[list[Any]] = []
        score_rows: list[list[Any]] = []
        for result in results:
            out = result.output
            result_rows.append(
                [
                    result.run_id,
                    result.case_id,
                    result.target,
                    result.repeat,
                    out.output,
                    out.error,
                    out.latency_s,
                    out.ttft_s,
                    out.usage.prompt_tokens,
                    out.usage.completion_tokens,
                    out.cost_usd,
                    _json(result.tags),
                    now,
                    _json([_step(step) for step in out.trajectory]),
                ]
            )
            score_rows.extend(
                [
                    result.run_id,
                    result.case_id,
                    result.target,
                    result.repeat,
                    score.name,
                    score.value,
                    score.reason,
                    score.error,
                    _json(score.details),
                ]
                for score in result.scores
            )
        if not result_rows:
            return 0
        # One columnar insert per table: executemany runs a statement per row (~1 ms each),
        # which made the writes most of the harness's own time (benchmarks/eval_throughput.py).
        results_batch = _columns(_RESULT_COLUMNS, result_rows)
        scores_batch = _columns(_SCORE_COLUMNS, score_rows)
        try:
            self._db.register("_results_batch", results_batch)
            self._db.register("_scores_batch", scores_batch)
            with self._transaction() as db:
                db.execute(
                    """
                    INSERT INTO results (run_id, case_id, target, repeat, output, error,
                        latency_s, ttft_s, prompt_tokens, completion_tokens, cost_usd, tags,
                        created_at, trajectory)
                    SELECT run_id, case_id, target, repeat, output, error, latency_s, ttft_s,
                        prompt_tokens, completion_tokens, cost_usd, tags, created_at, trajectory
                    FROM _results_batch
                    """
                )
                if score_rows:
                    db.execute(
                        """
                        INSERT INTO scores (run_id, case_id, target, repeat, scorer, value,
                            reason, error, details)
                        SELECT run_id, case_id, target, repeat, scorer, value, reason, error,
                            details
                        FROM _scores_batch
                        """
                    )
        finally:
            self._db.unregister("_results_batch")
            self._db.unregister("_scores_batch")
        return len(result_rows)

    def frame(self, run_ids: Iterable[str] | None = None) -> Any:
        """One row per (run, case, target, repeat, scorer): a pandas DataFrame for statistics."""
        ids = list(run_ids) if run_ids is not None else None
        query = """
            SELECT r.run_id, r.case_id, r.target, r.repeat, s.scorer, s.value,
                   s.error AS score_error, s.reason, r.error, r.output, r.latency_s, r.ttft_s,
                   r.prompt_tokens, r.completion_tokens, r.cost_usd, r.tags, c.prompt,
                   c.expected
            FROM results r LEFT JOIN scores s USING (run_id, case_id, target, repeat)
                LEFT JOIN cases c USING (run_id, case_id)
            WHERE ?::BOOLEAN OR r.run_id IN (SELECT unnest(?::TEXT[]))
            ORDER BY r.run_id, r.case_id, r.target, r.repeat, s.scorer
        """
        frame = self._db.execute(query, [ids is None, ids or []]).df()
        frame["tags"] = frame["tags"].map(
            lambda text: json.loads(text) if isinstance(text, str) else []
        )
        return frame

    def export(self, run_id: str, path: str | Path, *, fmt: str | None = None) -> Path:
        """Write a run's results and scores (one row per score) to Parquet or CSV."""
        target = Path(path)
        kind = (fmt or target.suffix.lstrip(".")).lower()
        if kind not in ("parquet", "csv"):
            raise StoreError(f"export format must be parquet or csv, not '{kind or '?'}'")
        run = self.run(run_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        frame = self.frame([run.run_id])
        frame["tags"] = frame["tags"].map(_json)
        if kind == "parquet":
            frame.to_parquet(target, index=False)
        else:
            frame.to_csv(target, index=False)
        return target


_CASE_COLUMNS = ("run_id", "case_id", "prompt", "input", "expected", "functions")


def _functions(case: Case) -> str | None:
    """The case's function-calling fields as JSON, or ``None`` when it has none."""
    if case.tools is None and case.expected_calls is None:
        return None
    return _json(
        {"tools": case.tools, "expected_calls": case.expected_calls, "call_order": case.call_order}
    )


_RESULT_COLUMNS = (
    "run_id",
    "case_id",
    "target",
    "repeat",
    "output",
    "error",
    "latency_s",
    "ttft_s",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "tags",
    "created_at",
    "trajectory",
)
_SCORE_COLUMNS = (
    "run_id",
    "case_id",
    "target",
    "repeat",
    "scorer",
    "value",
    "reason",
    "error",
    "details",
)


def _columns(names: tuple[str, ...], rows: list[list[Any]]) -> Any:
    """Rows as an Arrow table (DuckDB reads it in one scan); a column of ``None`` is null."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    return pa.Table.from_arrays(
        [pa.array([row[index] for row in rows]) for index in range(len(names))],
        names=list(names),
    )


def _step(step: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    return (
        asdict(step) if is_dataclass(step) and not isinstance(step, type) else {"value": repr(step)}
    )
