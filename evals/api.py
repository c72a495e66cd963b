"""The harness from Python (notebooks, scripts): one call runs and stores an eval.

from evals import evaluate, open_store, leaderboard
summary = await evaluate("tool_use", ["local:smollm2", "assistant"], repeats=2)
with open_store() as store:
    print(leaderboard(store.frame([summary.run_id])))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.dataset import Dataset, load_dataset
from evals.runner import ProgressHook, RunOptions, RunSummary, ScorerFactory, run_eval
from evals.scorers import build_scorer
from evals.store import EvalStore
from evals.targets import Target
from evals.types import Scorer, ScorerSpec

if TYPE_CHECKING:
    from assistant.agent import Assistant
    from assistant.config import Settings


def scorer_factory(assistant: Assistant) -> ScorerFactory:
    """Builds scorers whose judges and embeddings are the assistant's models (defaults:
    ``evals.judge_model`` and ``evals.embeddings_model``)."""
    settings = assistant.settings.evals

    def make(spec: ScorerSpec) -> Scorer:
        return build_scorer(
            spec,
            chat_model=assistant.chat_model,
            embeddings=assistant.embeddings,
            judge_model=settings.judge_model,
            embeddings_model=settings.embeddings_model,
        )

    return make


def open_store(
    db: str | Path | None = None, *, read_only: bool = True, settings: Settings | None = None
) -> EvalStore:
    """The eval store (``evals.db`` by default), read-only unless asked."""
    if db is None:
        from assistant.config import load_settings

        db = (settings or load_settings()).evals.db
    return EvalStore(db, read_only=read_only)


def run_options(settings: Settings, repeats: int = 1) -> RunOptions:
    """Run options from the ``evals`` settings."""
    evals = settings.evals
    return RunOptions(
        repeats=repeats,
        timeout=evals.timeout,
        retries=evals.retries,
        concurrency=dict(evals.concurrency),
        default_concurrency=evals.default_concurrency,
    )


async def evaluate(
    dataset: str | Path | Dataset | Any,
    targets: Sequence[str | Target | Callable[..., Any]],
    *,
    repeats: int = 1,
    tags: list[str] | None = None,
    limit: int | None = None,
    db: str | Path | None = None,
    resume: str | None = None,
    assistant: Assistant | None = None,
    on_result: ProgressHook | None = None,
) -> RunSummary:
    """Run ``dataset`` (a path, bundled name, DataFrame or Dataset) against ``targets``, stored.

    ``targets`` are specs (model refs, profiles, ``py:`` functions), callables, or targets
    from :func:`~evals.targets.resolve_target` (variants of one model or profile). ``tags``
    keeps the cases with any of them, then ``limit`` the first N.
    """
    from assistant.agent import build_assistant
    from assistant.config import load_settings

    owned = assistant is None
    assistant = assistant or build_assistant(load_settings())
    data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    if tags:
        data = data.filter(tags=tags)
    if limit is not None:
        data = data.head(limit)
    try:
        with EvalStore(db or assistant.settings.evals.db) as store:
            return await run_eval(
                data,
                targets,
                store=store,
                assistant=assistant,
                make_scorer=scorer_factory(assistant),
                options=run_options(assistant.settings, repeats),
                resume=resume,
                on_result=on_result,
            )
    finally:
        if owned:
            await assistant.aclose()
