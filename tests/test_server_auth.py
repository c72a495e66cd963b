"""API keys, per-key models and rate limits, the admin route, and ``/ready`` (in-process)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from assistant.config import Settings
from assistant.server import create_app, ratelimit
from assistant.server.auth import KEY_PREFIX, Authenticator, hash_key, new_key
from assistant.server.ratelimit import MemoryCounters, RateLimiter
from tests.fakes.scripted import ScriptedChatModel, ScriptedProvider, reply, scripted_assistant


@pytest.fixture(autouse=True)
def one_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs within one rate-limit window (a real minute may end mid-test)."""
    monkeypatch.setattr(ratelimit, "_now", lambda: 1_000_010.0)


ALICE, BOB, ADMIN = "sk-aw-alice-0123456789", "sk-aw-bob-9876543210", "sk-aw-admin-5555555555"


def settings_with(**server: Any) -> Settings:
    return Settings.model_validate({"server": server})


def keys(**extra: dict[str, Any]) -> dict[str, Any]:
    alice = {"name": "alice", "sha256": hash_key(ALICE), **extra.get("alice", {})}
    bob = {"name": "bob", "sha256": hash_key(BOB), "models": ["s:m"], **extra.get("bob", {})}
    return {"keys": [alice, bob], "admin_sha256": hash_key(ADMIN)}


def client(settings: Settings, answers: int = 20) -> httpx.AsyncClient:
    model = ScriptedChatModel(script=[reply("hi", input_tokens=30, output_tokens=10)] * answers)
    assistant = scripted_assistant(ScriptedProvider("s", {"m": model, "other": model}))
    app = create_app(settings, assistant)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


CHAT = {"model": "s:m", "messages": [{"role": "user", "content": "hello"}]}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
    return dict(error)


async def test_without_keys_any_or_no_bearer_is_accepted() -> None:
    async with client(Settings()) as api:
        for headers in ({}, bearer("whatever"), {"Authorization": "Basic Zm9vOmJhcg=="}):
            assert (await api.get("/v1/models", headers=headers)).status_code == 200
            assert (await api.post("/v1/chat/completions", json=CHAT, headers=headers)).is_success


async def test_a_key_is_required_on_every_v1_route_once_keys_exist() -> None:
    async with client(settings_with(auth=keys())) as api:
        routes = [
            ("GET", "/v1/models"),
            ("GET", "/v1/models/s:m"),
            ("POST", "/v1/chat/completions"),
            ("GET", "/v1/admin/usage"),
        ]
        for method, path in routes:
            response = await api.request(method, path, json=CHAT)
            message = assert_error(response, 401, "invalid_api_key")["message"]
            assert "Authorization: Bearer" in message
        wrong = await api.get("/v1/models", headers=bearer("sk-aw-not-a-key-123456"))
        assert "sk-aw-not-a-key" not in assert_error(wrong, 401, "invalid_api_key")["message"]
        assert (await api.get("/v1/models", headers=bearer(ALICE))).status_code == 200
        # liveness and readiness stay open for load balancers
        assert (await api.get("/health")).status_code == 200


async def test_keys_limited_to_models_see_and_use_only_those() -> None:
    async with client(settings_with(auth=keys())) as api:
        listed = (await api.get("/v1/models", headers=bearer(BOB))).json()["data"]
        assert [m["id"] for m in listed] == ["s:m"]
        everything = (await api.get("/v1/models", headers=bearer(ALICE))).json()["data"]
        assert {"s:m", "s:other"} <= {m["id"] for m in everything}
        other = {**CHAT, "model": "s:other"}
        denied = await api.post("/v1/chat/completions", json=other, headers=bearer(BOB))
        assert_error(denied, 404, "model_not_found")
        assert_error(
            await api.get("/v1/models/s:other", headers=bearer(BOB)), 404, "model_not_found"
        )
        ok = await api.post("/v1/chat/completions", json=CHAT, headers=bearer(BOB))
        assert ok.json()["choices"][0]["message"]["content"] == "hi"


async def test_requests_per_minute_answer_429_with_retry_after() -> None:
    async with client(settings_with(auth=keys(alice={"requests_per_minute": 3}))) as api:
        statuses = []
        for _ in range(5):
            response = await api.post("/v1/chat/completions", json=CHAT, headers=bearer(ALICE))
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 429, 429]
        limited = await api.get("/v1/models", headers=bearer(ALICE))
        error = assert_error(limited, 429, "rate_limit_exceeded")
        assert error["type"] == "rate_limit_error" and "3 requests per minute" in error["message"]
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # another key has its own budget; the admin key has none
        assert (await api.get("/v1/models", headers=bearer(BOB))).status_code == 200
        assert (await api.get("/v1/models", headers=bearer(ADMIN))).status_code == 200


async def test_tokens_per_minute_count_finished_answers() -> None:
    async with client(settings_with(auth=keys(alice={"tokens_per_minute": 100}))) as api:
        statuses = []
        for _ in range(4):  # 40 tokens per answer: the third crosses 100, the fourth waits
            response = await api.post("/v1/chat/completions", json=CHAT, headers=bearer(ALICE))
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 429]
        streamed = await api.post(
            "/v1/chat/completions", json={**CHAT, "stream": True}, headers=bearer(BOB)
        )
        assert streamed.status_code == 200
        usage = (await api.get("/v1/admin/usage", headers=bearer(ADMIN))).json()["data"]
        by_key = {row["key"]: row for row in usage}
        assert by_key["alice"]["tokens"] == 120 and by_key["alice"]["tokens_per_minute"] == 100
        assert by_key["bob"]["tokens"] == 40  # a streamed answer counts too


async def test_admin_route_needs_the_admin_key() -> None:
    async with client(settings_with(auth=keys())) as api:
        denied = await api.get("/v1/admin/usage", headers=bearer(ALICE))
        assert_error(denied, 403, "insufficient_permissions")
        allowed = await api.get("/v1/admin/usage", headers=bearer(ADMIN))
        assert allowed.status_code == 200
        rows = allowed.json()["data"]
        assert [row["key"] for row in rows] == ["alice", "bob"]
        assert not any(hash_key(ALICE) in str(row) for row in rows)  # hashes stay in config
    async with client(Settings()) as api:  # no admin key configured: no admin
        assert_error(await api.get("/v1/admin/usage"), 403, "insufficient_permissions")


def test_keys_are_random_prefixed_and_stored_as_sha256() -> None:
    first, second = new_key(), new_key()
    assert first != second and first.startswith(KEY_PREFIX) and len(first) > 40
    assert len(hash_key(first)) == 64 and hash_key(first) == hash_key(first)
    auth = Authenticator(settings_with(auth=keys()).server.auth)
    assert auth.identify(f"Bearer {ALICE}").name == "alice"
    assert auth.identify(f"bearer   {BOB} ").name == "bob"
    assert auth.identify(f"Bearer {ADMIN}").admin


@pytest.mark.parametrize(
    "bad", [{"name": "x", "sha256": "abc"}, {"name": "", "sha256": "0" * 64}, {"sha256": "0" * 64}]
)
def test_bad_key_entries_are_config_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="keys"):
        settings_with(auth={"keys": [bad]})


async def test_memory_windows_roll_over(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_040.0]  # 20 s into a minute
    monkeypatch.setattr(ratelimit, "_now", lambda: now[0])
    limiter = RateLimiter(MemoryCounters())
    await limiter.admit("k", 1, None)
    with pytest.raises(Exception, match="1 requests per minute") as caught:
        await limiter.admit("k", 1, None)
    assert caught.value.retry_after == pytest.approx(40)  # type: ignore[attr-defined]
    now[0] += 40  # the next minute
    await limiter.admit("k", 1, None)


async def test_ready_reports_its_checks() -> None:
    async with client(Settings()) as api:
        response = await api.get("/ready")
        body = response.json()
        assert set(body["checks"]) >= {"default_model", "providers", "local_models"}
        # the scripted assistant has no local provider, so the default local model is missing
        assert response.status_code == 503 and body["status"] == "not ready"
        assert body["checks"]["default_model"]["ok"] is False
    assistant = scripted_assistant(ScriptedProvider("s", ScriptedChatModel(script=[])))
    settings = Settings(default_model="s:m")
    app = create_app(settings, assistant)
    assistant.settings = settings
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        ready = await api.get("/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
