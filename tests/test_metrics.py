"""Prometheus metrics: known traffic through the API gives exactly the expected samples, the
exposition passes ``promtool check metrics``, labels stay bounded, and several worker
processes report one total."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from assistant.agent import Assistant
from assistant.config import ResilienceSettings
from assistant.errors import ProviderHTTPError
from assistant.metrics import OTHER, BoundedValues, Metrics, render
from assistant.observe import ModelCall, Observer
from assistant.server import create_app
from tests.conftest import clean_environ, serving
from tests.fakes.scripted import (
    ScriptedChatModel,
    ScriptedProvider,
    call_tools,
    reply,
    scripted_assistant,
    tool_call,
)

PROMTOOL = shutil.which("promtool")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and label set."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def total(found: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= ls)


def promtool_problems(text: str) -> str:
    assert PROMTOOL is not None, "promtool is missing: run `make test-deps`"
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    return (checked.stdout + checked.stderr).decode() if checked.returncode else ""


def test_label_values_are_bounded() -> None:
    bounded = BoundedValues(limit=2)
    assert [bounded(v) for v in ("a", "b", "c", "a", "d")] == ["a", "b", OTHER, "a", OTHER]


def test_an_endless_variety_of_model_names_stays_within_the_bound() -> None:
    metrics = Metrics()
    for number in range(500):
        metrics.model_called(ModelCall("p", f"model-{number}", "ok", 0.1))
    found = samples(render(metrics).decode())
    models = {dict(ls)["model"] for (n, ls) in found if n == "assistant_model_requests_total"}
    assert len(models) == 101 and OTHER in models
    assert total(found, "assistant_model_requests_total") == 500


def _traffic_assistant() -> tuple[Assistant, ScriptedChatModel]:
    answers = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "hi"}, id="t1")), reply("done")],
        cycle=True,
    )
    failing = ScriptedChatModel(script=[ProviderHTTPError("down", 503, "unavailable")], cycle=True)
    fragile = ResilienceSettings(max_retries=0, backoff_initial=0, breaker_threshold=1)
    assistant = scripted_assistant(
        ScriptedProvider("s", answers),
        ScriptedProvider("down", failing, resilience=fragile),
        chains={"sturdy": ["down:m", "s:m"]},
        profiles={"helper": {"model": "s:m", "tools": ["echo"]}},
    )
    return assistant, answers


async def test_known_traffic_gives_the_expected_samples() -> None:
    assistant, _ = _traffic_assistant()
    app = create_app(assistant.settings, assistant)
    transport = httpx.ASGITransport(app=app)
    ask = [{"role": "user", "content": "hello"}]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        # 1. an agent turn: two model calls (tool call, answer) and one tool call
        agent = await api.post("/v1/chat/completions", json={"model": "helper", "messages": ask})
        # 2. the chain: its first member fails (breaker opens), the second answers
        chain = await api.post("/v1/chat/completions", json={"model": "sturdy", "messages": ask})
        # 3. a deterministic raw call streamed (a miss, time to first token), then a hit
        body = {"model": "s:m", "messages": ask, "temperature": 0}
        streamed = await api.post("/v1/chat/completions", json={**body, "stream": True})
        hit = await api.post("/v1/chat/completions", json=body)
        # 4. errors: an unknown model and an unknown route
        missing = await api.post("/v1/chat/completions", json={"model": "x:y", "messages": ask})
        lost = await api.get("/no/such/route")
        scrape = await api.get("/metrics")
    assert [r.status_code for r in (agent, chain, streamed, hit, missing, lost)] == [
        200, 200, 200, 200, 404, 404,
    ]  # fmt: skip
    assert scrape.headers["content-type"].startswith("text/plain")
    found = samples(scrape.text)
    chat = {"method": "POST", "route": "/v1/chat/completions"}
    assert value(found, "assistant_http_requests_total", **chat, status="200") == 4
    assert value(found, "assistant_http_requests_total", **chat, status="404") == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(found, "assistant_http_requests_total", **unmatched) == 1
    assert value(found, "assistant_http_request_duration_seconds_count", **chat) == 5
    # model calls: agent 2 + chain 1 (on s) + stream 1 = 4 ok on s:m; 1 failure on down:m
    ok = {"provider": "s", "model": "m", "outcome": "ok"}
    assert value(found, "assistant_model_requests_total", **ok) == 4
    failed = {"provider": "down", "model": "m", "outcome": "ProviderHTTPError"}
    assert value(found, "assistant_model_requests_total", **failed) == 1
    s_m = {"provider": "s", "model": "m"}
    assert value(found, "assistant_model_tokens_total", **s_m, kind="prompt") == 40
    assert value(found, "assistant_model_tokens_total", **s_m, kind="completion") == 20
    assert value(found, "assistant_model_time_to_first_token_seconds_count", **s_m) >= 1
    assert value(found, "assistant_fallbacks_total", chain="sturdy", member="down:m") == 1
    assert value(found, "assistant_breaker_open", provider="down") == 1
    assert value(found, "assistant_breaker_opened_total", provider="down") == 1
    assert value(found, "assistant_breaker_open", provider="s") == 0
    assert value(found, "assistant_tool_calls_total", tool="echo", outcome="ok") == 1
    assert value(found, "assistant_tool_call_duration_seconds_count", tool="echo") == 1
    assert value(found, "assistant_cache_requests_total", backend="memory", result="miss") == 1
    assert value(found, "assistant_cache_requests_total", backend="memory", result="hit") == 1
    assert value(found, "assistant_cache_up", backend="memory") == 1
    assert value(found, "process_resident_memory_bytes") is not None
    assert promtool_problems(scrape.text) == ""


class Recorder(Observer):
    def __init__(self) -> None:
        self.depths: list[int] = []
        self.calls: list[ModelCall] = []

    def queue_changed(self, model: str, depth: int) -> None:
        self.depths.append(depth)

    def model_called(self, call: ModelCall) -> None:
        self.calls.append(call)


async def test_the_embedded_model_reports_its_queue_and_its_calls(
    local_assistant: Assistant,
) -> None:
    recorder = Recorder()
    local = local_assistant.registry.get("local")
    engine: Any = getattr(local, "engines")["smollm2"]  # noqa: B009 - LocalProvider's engines
    engine.observer = recorder
    local_assistant.catalog.observer = recorder
    local_assistant.catalog._models.clear()  # rebuild the model with the recorder
    try:
        model = local_assistant.chat_model("local:smollm2")
        chunks = [c async for c in model.astream("Say hi.", max_tokens=4, temperature=0)]
    finally:
        engine.observer = local_assistant.metrics
        local_assistant.catalog.observer = local_assistant.metrics or Observer()
        local_assistant.catalog._models.clear()
    assert chunks
    assert max(recorder.depths) >= 1 and recorder.depths[-1] == 0
    (call,) = recorder.calls
    assert (call.provider, call.model, call.outcome) == ("local", "smollm2", "ok")
    assert call.first_token_s is not None and 0 < call.first_token_s <= call.seconds
    assert call.completion_tokens >= 1 and call.prompt_tokens >= 1


async def test_metrics_can_be_turned_off() -> None:
    assistant = scripted_assistant(
        ScriptedProvider("s", ScriptedChatModel()), metrics={"enabled": False}
    )
    assert assistant.metrics is None
    app = create_app(assistant.settings, assistant)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        response = await api.get("/metrics")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def access_log(log: Path) -> dict[str, dict[str, Any]]:
    """request id -> its JSON access-log record (a line still being written is skipped)."""
    served = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("logger") == "assistant.server.access":
            served[record["request_id"]] = record
    return served


def logged(log: Path, request_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The access log once it holds every one of ``request_ids`` (bounded wait: each line is
    written just after its response)."""
    deadline = time.monotonic() + 30
    while not set(request_ids) <= (records := access_log(log)).keys():
        assert time.monotonic() < deadline, "a request never reached the access log"
        time.sleep(0.05)
    return records


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = {
        **clean_environ(),
        "ASSISTANT_LOG__JSON_FORMAT": "true",
        # no embedded model: loading one per worker holds each event loop up for seconds
        "ASSISTANT_PROVIDERS__LOCAL__ENABLED": "false",
    }
    with serving(tmp_path, env, "--workers", "2") as served:
        yield served


@pytest.mark.slow
def test_two_workers_report_one_total(two_workers: tuple[str, Path]) -> None:
    base_url, log = two_workers

    def health(_: int) -> str:
        with httpx.Client(timeout=30) as fresh:  # a new connection: either worker may answer
            return fresh.get(f"{base_url}/health").headers["x-request-id"]

    sent: list[str] = []
    deadline = time.monotonic() + 30
    while len({r["pid"] for r in access_log(log).values()}) < 2:
        assert time.monotonic() < deadline, "the second worker never answered"
        with ThreadPoolExecutor(8) as pool:
            sent += pool.map(health, range(16))
    records = logged(log, sent)
    pids = [r["pid"] for r in records.values() if r["path"] == "/health"]
    expected = len(pids)  # ours, and the readiness probes of `serving`
    assert all(pids.count(pid) < expected for pid in set(pids))  # no worker saw them all

    scrapers: set[int] = set()
    health_200 = {"method": "GET", "route": "/health", "status": "200"}
    for _ in range(40):  # bounded: until both workers have answered a scrape
        with httpx.Client(timeout=30) as fresh:
            scrape = fresh.get(f"{base_url}/metrics")
        found = samples(scrape.text)
        assert value(found, "assistant_http_requests_total", **health_200) == expected
        assert promtool_problems(scrape.text) == ""
        scrape_id = scrape.headers["x-request-id"]
        scrapers.add(logged(log, [scrape_id])[scrape_id]["pid"])
        if len(scrapers) == 2:
            break
    assert len(scrapers) == 2, "both workers should have answered a scrape"
