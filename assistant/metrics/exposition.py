"""The ``/metrics`` text, in one process or summed over several worker processes.

With several uvicorn workers, each process writes its samples to files in the directory named
by ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode), and whichever worker
answers a scrape reads them all. The variable must be set before ``prometheus_client`` is
first imported in a process; ``assistant serve --workers N`` sets it (to a fresh temporary
directory) before the workers start, and empties an existing one, as a restart must.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from assistant.metrics.instruments import Metrics

ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess_dir() -> Path | None:
    """The shared directory of multiprocess mode, or ``None`` in single-process mode."""
    value = os.environ.get(ENV) or os.environ.get(ENV.lower())
    return Path(value) if value else None


def prepare_multiprocess_dir(path: Path) -> None:
    """Create ``path`` or empty it of a previous run's sample files (before workers start)."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def mark_process_dead(pid: int | None = None) -> None:
    """Drop a finished worker's live gauges (its counters keep counting in the sum)."""
    if multiprocess_dir() is not None:
        _multiprocess.mark_process_dead(pid if pid is not None else os.getpid())  # type: ignore[no-untyped-call]


def add_process_collectors(metrics: Metrics) -> None:
    """Process (memory, CPU, file descriptors) and Python metrics, in single-process mode.

    In multiprocess mode they would describe only the worker that answers the scrape, so
    they are left out there, as prometheus-client does.
    """
    if multiprocess_dir() is None:
        ProcessCollector(registry=metrics.registry)
        PlatformCollector(registry=metrics.registry)


def render(metrics: Metrics) -> bytes:
    """The exposition text of every metric (of every worker, in multiprocess mode)."""
    folder = multiprocess_dir()
    if folder is None:
        return generate_latest(metrics.registry)
    registry = CollectorRegistry()
    _multiprocess.MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    return generate_latest(registry)
