"""Prometheus metrics: every instrument on one injected registry, and the ``/metrics`` text.

The composition root builds one :class:`Metrics` per process and hands it to the parts as
their :class:`~assistant.observe.Observer`; the server exposes :func:`render` at ``/metrics``.
Several worker processes share one view through ``PROMETHEUS_MULTIPROC_DIR``.
"""

from __future__ import annotations

from assistant.metrics.exposition import (
    CONTENT_TYPE,
    ENV,
    add_process_collectors,
    mark_process_dead,
    multiprocess_dir,
    prepare_multiprocess_dir,
    render,
)
from assistant.metrics.instruments import MAX_LABEL_VALUES, OTHER, BoundedValues, Metrics

__all__ = [
    "CONTENT_TYPE",
    "ENV",
    "MAX_LABEL_VALUES",
    "OTHER",
    "BoundedValues",
    "Metrics",
    "add_process_collectors",
    "mark_process_dead",
    "multiprocess_dir",
    "prepare_multiprocess_dir",
    "render",
]
