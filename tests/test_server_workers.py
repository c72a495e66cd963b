"""Auth and rate limits on a real ``assistant serve --workers 2`` sharing a real Redis.

The key's budget is global: the two worker processes count in Redis, so exactly the
configured number of requests pass, whichever worker serves them. The server's JSON logs
are then searched for any trace of a key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from assistant.server.auth import hash_key
from tests.conftest import clean_environ, serving

KEY = "sk-aw-workers-test-key-0123456789"
ADMIN = "sk-aw-workers-admin-key-9876543210"
WRONG = "sk-aw-wrong-key-that-must-not-leak"
RPM = 5


@pytest.fixture
def two_workers(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    keys = [{"name": "alice", "sha256": hash_key(KEY), "requests_per_minute": RPM}]
    env = {
        **clean_environ(),
        "ASSISTANT_SERVER__AUTH__KEYS": json.dumps(keys),
        "ASSISTANT_SERVER__AUTH__ADMIN_SHA256": hash_key(ADMIN),
        "ASSISTANT_SERVER__REDIS_URL": redis_url,
        "ASSISTANT_LOG__JSON_FORMAT": "true",
    }
    with serving(tmp_path, env, "--workers", "2") as served:
        yield served


def log_records(log: Path) -> list[dict[str, Any]]:
    """The JSON lines of the server log (a line still being written is skipped)."""
    records = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def access_pids(log: Path) -> set[int]:
    return {r["pid"] for r in log_records(log) if r.get("logger") == "assistant.server.access"}


def get(url: str, key: str | None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(timeout=30) as fresh:  # a new connection each time: any worker may answer
        return fresh.get(url, headers=headers).status_code


@pytest.mark.slow
def test_rate_limits_are_shared_by_workers_through_redis(
    two_workers: tuple[str, Path], redis_url: str
) -> None:
    base_url, log = two_workers
    deadline = time.monotonic() + 30
    while len(access_pids(log)) < 2 and time.monotonic() < deadline:
        with ThreadPoolExecutor(8) as pool:  # concurrent connections spread over the workers
            list(pool.map(lambda _: get(f"{base_url}/health", None), range(16)))
    assert len(access_pids(log)) == 2, "both workers should have served requests"

    # The budget is per wall-clock minute: start the burst well inside one (bounded wait).
    into_minute = time.time() % 60
    if into_minute > 50:
        time.sleep(60.5 - into_minute)

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: get(f"{base_url}/v1/models", KEY), range(12)))
    assert sorted(statuses) == [200] * RPM + [429] * (12 - RPM)

    counters = redis.Redis.from_url(redis_url)
    (name,) = counters.keys("assistant:ratelimit:alice:requests:*")
    assert int(counters.get(name) or 0) == 12  # every worker counted in the one place

    assert get(f"{base_url}/v1/models", None) == 401
    assert get(f"{base_url}/v1/models", WRONG) == 401
    usage = httpx.get(
        f"{base_url}/v1/admin/usage", headers={"Authorization": f"Bearer {ADMIN}"}
    ).json()
    assert usage["data"][0]["requests"] >= 12

    text = log.read_text(errors="replace")
    for secret in (KEY, ADMIN, WRONG):
        for start in range(0, len(secret) - 6):
            assert secret[start : start + 7] not in text, "a key leaked into the logs"


def access_records(log: Path) -> dict[str, int]:
    """request id -> pid of the worker that served it."""
    return {
        r["request_id"]: r["pid"]
        for r in log_records(log)
        if r.get("logger") == "assistant.server.access" and "request_id" in r
    }


@pytest.mark.slow
def test_an_answer_cached_by_one_worker_is_a_hit_on_the_other(
    redis_url: str, tmp_path: Path
) -> None:
    env = {
        **clean_environ(),
        "ASSISTANT_CACHE__BACKEND": "redis",
        "ASSISTANT_CACHE__REDIS_URL": redis_url,
        "ASSISTANT_LOG__JSON_FORMAT": "true",
    }
    body = {
        "model": "local:smollm2",
        "temperature": 0,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Name a colour. (shared-cache test)"}],
    }
    with serving(tmp_path, env, "--workers", "2") as (base_url, log):

        def ask() -> httpx.Response:
            with httpx.Client(timeout=60) as fresh:  # a new connection: any worker may answer
                return fresh.post(f"{base_url}/v1/chat/completions", json=body)

        first = ask()
        assert first.status_code == 200 and first.headers["x-cache"] == "miss"
        answer = first.json()["choices"][0]["message"]["content"]
        # the access log line is written just after the response: wait for it (bounded)
        deadline = time.monotonic() + 10
        while first.headers["x-request-id"] not in access_records(log):
            assert time.monotonic() < deadline, "the miss never reached the access log"
            time.sleep(0.05)
        miss_pid = access_records(log)[first.headers["x-request-id"]]
        other_worker_hit = None
        for _ in range(40):  # bounded: connections spread over the two workers
            with ThreadPoolExecutor(4) as pool:
                replies = list(pool.map(lambda _: ask(), range(4)))
            served = access_records(log)
            for reply in replies:
                assert reply.headers["x-cache"] == "hit"
                assert reply.json()["choices"][0]["message"]["content"] == answer
                if served.get(reply.headers["x-request-id"], miss_pid) != miss_pid:
                    other_worker_hit = reply
            if other_worker_hit is not None:
                break
        assert other_worker_hit is not None, "the other worker never answered"
