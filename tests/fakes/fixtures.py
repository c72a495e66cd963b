"""Pytest fixtures for the fake upstream (registered from ``tests/conftest.py``).

Two servers are started once per session (starting uvicorn costs more than a test) and reset
before each test that uses them: script and recorded requests start empty every time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from assistant.agent import Assistant, build_assistant
from assistant.config import load_settings
from tests.fakes.upstream import FakeUpstream

FAST_RESILIENCE: dict[str, Any] = {
    "max_retries": 2,
    "backoff_initial": 0.01,
    "backoff_max": 0.05,
    "timeout": 1.0,
    "breaker_threshold": 3,
    "breaker_reset": 60,
}
"""Resilience settings that keep retry tests fast."""


def endpoint(upstream: FakeUpstream | str, **overrides: Any) -> dict[str, Any]:
    """A ``providers.compatible.NAME`` section pointing at ``upstream`` (or a base URL)."""
    base_url = upstream if isinstance(upstream, str) else upstream.base_url
    return {"base_url": base_url, **FAST_RESILIENCE, **overrides}


@contextmanager
def gateway_over(
    upstream: FakeUpstream, workdir: Path, models: list[str], **overrides: Any
) -> Iterator[str]:
    """``assistant serve`` (a real process) whose provider ``fake:`` is ``upstream``, serving
    ``models``: its base URL, while the block runs."""
    from tests.conftest import clean_environ, serving  # conftest registers this module

    section = {"base_url": upstream.base_url, "models": models, "max_retries": 0, **overrides}
    env = {**clean_environ(), "ASSISTANT_PROVIDERS__COMPATIBLE": json.dumps({"fake": section})}
    with serving(workdir, env) as (base_url, _):
        yield base_url


class _Pool:
    """Fake upstreams by name, started on first use and stopped at the end of the session."""

    def __init__(self) -> None:
        self._servers: dict[str, FakeUpstream] = {}

    def get(self, name: str) -> FakeUpstream:
        server = self._servers.get(name)
        if server is None:
            server = FakeUpstream(name).start()
            self._servers[name] = server
        server.reset()
        return server

    def stop_all(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


@pytest.fixture(scope="session")
def _fake_upstream_pool() -> Iterator[_Pool]:
    pool = _Pool()
    yield pool
    pool.stop_all()


@pytest.fixture
def fake_upstream(_fake_upstream_pool: _Pool) -> Iterator[FakeUpstream]:
    """A scripted OpenAI-compatible upstream on loopback, reset for this test."""
    server = _fake_upstream_pool.get("fake")
    yield server
    server.reset()


@pytest.fixture
def fake_upstream2(_fake_upstream_pool: _Pool) -> Iterator[FakeUpstream]:
    """A second, independent upstream (for fallback chains)."""
    server = _fake_upstream_pool.get("fake2")
    yield server
    server.reset()


__all__ = ["FAST_RESILIENCE", "endpoint", "fake_upstream", "fake_upstream2"]


# -- fake SearXNG (the web_search tool) ---------------------------------------------------------

from tests.fakes.searxng import FakeSearxng  # noqa: E402 - a section of its own


@pytest.fixture(scope="session")
def _fake_searxng_server() -> Iterator[FakeSearxng]:
    server = FakeSearxng().start()
    yield server
    server.stop()


@pytest.fixture
def fake_searxng(_fake_searxng_server: FakeSearxng) -> Iterator[FakeSearxng]:
    """A scripted SearXNG on loopback, reset for this test."""
    _fake_searxng_server.reset()
    yield _fake_searxng_server
    _fake_searxng_server.reset()


__all__ += ["fake_searxng"]


# -- assistants over fake upstreams (resilience and fallback tests) -----------------------------

Build = Callable[..., Assistant]
"""``build(chains=..., name=endpoint(...), ...)``: an assistant whose compatible endpoints are
the given fakes."""

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def texts(chunks: list[Any]) -> list[str]:
    """The non-empty text pieces of streamed chunks."""
    return [chunk.text for chunk in chunks if chunk.text]


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's proxy must not route loopback traffic elsewhere."""
    import os

    for key in list(os.environ):
        if key.upper() in PROXY_VARIABLES:
            monkeypatch.delenv(key)


@pytest.fixture
async def build() -> AsyncIterator[Build]:
    """Build assistants whose compatible endpoints are given; close them at teardown."""
    built: list[Assistant] = []

    def _build(chains: dict[str, Any] | None = None, **endpoints: dict[str, Any]) -> Assistant:
        settings = load_settings(providers={"compatible": endpoints}, chains=chains or {})
        assistant = build_assistant(settings)
        built.append(assistant)
        return assistant

    yield _build
    for assistant in built:
        await assistant.aclose()


__all__ += ["Build", "build", "no_proxies", "texts"]
