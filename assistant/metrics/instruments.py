"""Every Prometheus instrument of the workbench, on one injected registry.

:class:`Metrics` is the :class:`~assistant.observe.Observer` the composition root hands to the
providers, the cache and the local engine, plus what the server and the eval runner record
directly (HTTP requests, eval cases). Names follow Prometheus conventions
(``assistant_..._total``, ``_seconds``); label values are bounded: routes are templates, and
every label fed from outside the code (models, tools, chains) keeps its first
:data:`MAX_LABEL_VALUES` values and files the rest under ``other``.

Gauges carry a ``multiprocess_mode``, used when several worker processes share
``PROMETHEUS_MULTIPROC_DIR`` (see :mod:`assistant.metrics.exposition`): queue depths and
in-flight requests add up over live workers; a breaker counts as open when it is open in any
live worker; the cache counts as up only when it is up in every live worker.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from assistant.observe import CacheResult, ModelCall, Observer

MAX_LABEL_VALUES = 100
"""Distinct values one label keeps before the rest are counted as ``other``."""

OTHER = "other"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
"""Seconds: from a cache hit (milliseconds) to a long local generation (minutes)."""


class BoundedValues:
    """The first ``limit`` distinct values pass; later ones become ``other``."""

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(value)
                return value
        return OTHER


class Metrics(Observer):
    """The instruments, registered on ``registry`` (a fresh one when not given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._models = BoundedValues()
        self._tools = BoundedValues()
        self._chains = BoundedValues()
        self._routes = BoundedValues()
        r = self.registry

        self.http_requests = Counter(
            "assistant_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "assistant_http_request_duration_seconds",
            "Seconds from a request's arrival to the end of its response (streams included).",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_in_flight = Gauge(
            "assistant_http_requests_in_flight",
            "Requests being answered now.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.model_requests = Counter(
            "assistant_model_requests",
            "Model calls per provider and model (retries included), by outcome: ok, "
            "cancelled, or the error class.",
            ["provider", "model", "outcome"],
            registry=r,
        )
        self.model_duration = Histogram(
            "assistant_model_request_duration_seconds",
            "Seconds a model call took, retries included, to its last token.",
            ["provider", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model_first_token = Histogram(
            "assistant_model_time_to_first_token_seconds",
            "Seconds from a streamed model call's start to its first text or tool call.",
            ["provider", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model_tokens = Counter(
            "assistant_model_tokens",
            "Tokens the providers reported, by kind (prompt, completion).",
            ["provider", "model", "kind"],
            registry=r,
        )
        self.fallbacks = Counter(
            "assistant_fallbacks",
            "Times a fallback chain gave up on a member and moved on.",
            ["chain", "member"],
            registry=r,
        )
        self.breaker_open = Gauge(
            "assistant_breaker_open",
            "1 while a provider's circuit breaker is open (fails fast).",
            ["provider"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.breaker_opened = Counter(
            "assistant_breaker_opened",
            "Times a provider's circuit breaker opened.",
            ["provider"],
            registry=r,
        )
        self.tool_calls = Counter(
            "assistant_tool_calls",
            "Tool calls of agents, by tool and outcome: ok or error.",
            ["tool", "outcome"],
            registry=r,
        )
        self.tool_duration = Histogram(
            "assistant_tool_call_duration_seconds",
            "Seconds a tool call took.",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cache_requests = Counter(
            "assistant_cache_requests",
            "Response cache lookups by backend and result: hit, miss, or error (backend down).",
            ["backend", "result"],
            registry=r,
        )
        self.cache_up = Gauge(
            "assistant_cache_up",
            "1 while the response cache's backend answers, 0 while it is down.",
            ["backend"],
            registry=r,
            multiprocess_mode="livemin",
        )
        self.queue_depth = Gauge(
            "assistant_local_queue_depth",
            "Jobs waiting for or running on an embedded model.",
            ["model"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.eval_cases = Counter(
            "assistant_eval_cases",
            "Eval cases finished, by outcome: passed, failed or error.",
            ["outcome"],
            registry=r,
        )

    # -- what the composition root knows at start -----------------------------------------

    def known_provider(self, provider: str) -> None:
        """Start a provider's breaker gauge at closed, so alerts see it before any change."""
        self.breaker_open.labels(provider).set(0)

    def known_cache(self, backend: str) -> None:
        """Start the cache's availability gauge at up."""
        self.cache_up.labels(backend).set(1)

    def known_local_model(self, model: str) -> None:
        """Start an embedded model's queue depth at zero."""
        self.queue_depth.labels(self._models(model)).set(0)

    # -- the server and the eval runner ---------------------------------------------------

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered HTTP request (``route`` is the route's template, never the raw path)."""
        route = self._routes(route)
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_duration.labels(method, route).observe(seconds)

    # -- Observer hooks -------------------------------------------------------------------

    def model_called(self, call: ModelCall) -> None:
        model = self._models(call.model)
        self.model_requests.labels(call.provider, model, call.outcome).inc()
        self.model_duration.labels(call.provider, model).observe(call.seconds)
        if call.first_token_s is not None:
            self.model_first_token.labels(call.provider, model).observe(call.first_token_s)
        if call.prompt_tokens:
            self.model_tokens.labels(call.provider, model, "prompt").inc(call.prompt_tokens)
        if call.completion_tokens:
            self.model_tokens.labels(call.provider, model, "completion").inc(call.completion_tokens)

    def fell_back(self, chain: str, failed: str) -> None:
        self.fallbacks.labels(self._chains(chain), self._models(failed)).inc()

    def breaker_changed(self, provider: str, is_open: bool) -> None:
        self.breaker_open.labels(provider).set(1 if is_open else 0)
        if is_open:
            self.breaker_opened.labels(provider).inc()

    def cache_looked_up(self, backend: str, result: CacheResult) -> None:
        self.cache_requests.labels(backend, result).inc()

    def cache_availability(self, backend: str, available: bool) -> None:
        self.cache_up.labels(backend).set(1 if available else 0)

    def queue_changed(self, model: str, depth: int) -> None:
        self.queue_depth.labels(self._models(model)).set(depth)

    def tool_called(self, tool: str, outcome: str, seconds: float) -> None:
        tool = self._tools(tool)
        self.tool_calls.labels(tool, outcome).inc()
        self.tool_duration.labels(tool).observe(seconds)

    def eval_case_scored(self, outcome: str) -> None:
        self.eval_cases.labels(outcome).inc()
