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


def access_pids(log: Path) -> set[int]:
    pids = set()
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("logger") == "assistant.server.access":
                pids.add(record["pid"])
    return pids


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
