"""Secrets canary suite: configure a distinctive key everywhere one can be configured, drive
every failure path, then search everything the system wrote or answered for any 6-character
piece of any key.

Canaries: an API key for every hosted provider (OpenAI, OpenRouter, Together, Anthropic) and
for a compatible endpoint; two client keys and the admin key of the server (configured as
their SHA-256, sent raw by the client); two wrong keys clients send; and the password of a
real ``redis-server`` (``requirepass``) in the cache, rate-limit and session Redis URLs.

Every provider points at :class:`LeakyUpstream`, which echoes the key it receives in every
error it makes up: 401/403/429/500 quoting it whole (body and a header), a 401 quoting it as
OpenAI does (first 12, last 4 characters), a proxy's HTML 502, a malformed 200, an error frame
inside a stream, a timeout. The scenario (one real ``assistant serve`` with JSON logs) sends
each to each provider, whole and streamed, through a fallback chain and an agent profile; wrong
keys; a key past its rate limit; admin routes with and without the admin key; cached answers
in Redis; then Redis goes away mid-traffic. Around it, the CLI: ``assistant config``,
``models``, ``keys``, ``profiles``, ``eval run`` into a DuckDB file and ``eval report --html``.

Searched: the server log, every response's status line, headers and body, ``/metrics``, every
Redis key and value (decompressed), every DuckDB table as text and the raw file bytes, the HTML
report, and every CLI output.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import redis
import zstandard

from tests.conftest import clean_environ, free_port, serving, start_redis
from tests.security.leaky_upstream import LeakyUpstream

_ALPHABET = string.ascii_letters + string.digits
_rng = random.Random(20261128)  # fixed: the same canaries every run, so a failure reproduces


def _canary(prefix: str = "") -> str:
    return prefix + "".join(_rng.choice(_ALPHABET) for _ in range(36))


CANARIES: dict[str, str] = {
    "openai": _canary("sk-"),
    "openrouter": _canary("sk-or-"),
    "together": _canary(),
    "anthropic": _canary("sk-ant-"),
    "compatible": _canary("sk-"),
    "client_alice": _canary("sk-aw-"),
    "client_bob": _canary("sk-aw-"),
    "admin": _canary("sk-aw-"),
    "wrong_key": _canary("sk-aw-"),
    "redis_password": _canary(),
}
NEAR_MISS = CANARIES["client_alice"][:-1] + ("A" if CANARIES["client_alice"][-1] != "A" else "B")
"""Alice's key with its last character changed: a wrong key that shares all but one of the
real key's 6-character pieces, so echoing it would leak the real one."""

WINDOW = 6
PROVIDERS = ("openai", "openrouter", "together", "anthropic", "leaky")
BEHAVIOURS = (
    "ok",
    "echo-401",
    "echo-403",
    "echo-429",
    "echo-500",
    "partial-401",
    "html-502",
    "malformed",
    "stream-error",
    "slow",
)
DATASET = [
    {
        "id": "q1",
        "input": "What is the capital of France?",
        "expected": "Paris",
        "scorers": [{"name": "contains", "args": {"text": "Paris"}}],
    },
    {
        "id": "q2",
        "input": "And of Japan?",
        "expected": "Tokyo",
        "scorers": [{"name": "contains", "args": {"text": "Tokyo"}}],
    },
]
EVAL_TARGETS = (
    "leaky:ok",
    "openai:echo-401",
    "anthropic:partial-401",
    "together:malformed",
    "openrouter:html-502",
)


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def leaks(text: str | bytes) -> list[str]:
    """``name:piece`` for every canary with a 6-character piece in ``text``."""
    haystack = text.decode("latin-1") if isinstance(text, bytes) else text
    found = []
    for name, secret in [*CANARIES.items(), ("near_miss", NEAR_MISS)]:
        for start in range(len(secret) - WINDOW + 1):
            piece = secret[start : start + WINDOW]
            if piece in haystack:
                found.append(f"{name}:{piece}")
                break
    return found


# -- the real servers ---------------------------------------------------------------------------


def settings_env(upstream: LeakyUpstream, redis_url: str, eval_db: Path) -> dict[str, str]:
    """Every canary configured, every provider pointing at the leaky upstream."""
    fast = {
        "timeout": 0.5,
        "max_retries": 1,
        "backoff_initial": 0.01,
        "backoff_max": 0.02,
        "retry_after_max": 1,
        "breaker_threshold": 1000,
    }

    def remote(name: str, prefix: str) -> str:
        return json.dumps(
            {"api_key": CANARIES[name], "base_url": upstream.base_url(prefix), **fast}
        )

    auth = {
        "keys": [
            {"name": "alice", "sha256": _sha(CANARIES["client_alice"]), "requests_per_minute": 3},
            {"name": "bob", "sha256": _sha(CANARIES["client_bob"])},
        ],
        "admin_sha256": _sha(CANARIES["admin"]),
    }
    compatible = {
        "leaky": {
            "api_key": CANARIES["compatible"],
            "base_url": upstream.base_url("compatible/v1"),
            **fast,
        }
    }
    return {
        **clean_environ(),
        "ASSISTANT_PROVIDERS__LOCAL__ENABLED": "false",
        "ASSISTANT_PROVIDERS__OPENAI": remote("openai", "openai/v1"),
        "ASSISTANT_PROVIDERS__OPENROUTER": remote("openrouter", "openrouter/api/v1"),
        "ASSISTANT_PROVIDERS__TOGETHER": remote("together", "together/v1"),
        "ASSISTANT_PROVIDERS__ANTHROPIC": remote("anthropic", "anthropic"),
        "ASSISTANT_PROVIDERS__COMPATIBLE": json.dumps(compatible),
        "ASSISTANT_DEFAULT_MODEL": "leaky:ok",
        "ASSISTANT_CHAINS": json.dumps(
            {
                "everything": [
                    "openai:echo-500",
                    "anthropic:echo-500",
                    "together:slow",
                    "openrouter:html-502",
                    "leaky:echo-429",
                ]
            }
        ),
        "ASSISTANT_PROFILES": json.dumps(
            {
                "helper": {"model": "leaky:ok", "tools": ["calculator"], "temperature": 0},
                "broken": {"model": "openai:echo-401", "tools": []},
            }
        ),
        "ASSISTANT_SERVER__AUTH": json.dumps(auth),
        "ASSISTANT_SERVER__REDIS_URL": redis_url,
        "ASSISTANT_CACHE__BACKEND": "redis",
        "ASSISTANT_CACHE__REDIS_URL": redis_url,
        "ASSISTANT_CACHE__COMPRESS_MIN_BYTES": "200",
        "ASSISTANT_SESSIONS__REDIS_URL": redis_url,
        "ASSISTANT_EVALS__DB": str(eval_db),
        "ASSISTANT_KB__EMBEDDINGS_MODEL": "leaky:ok",
        "ASSISTANT_LOG__JSON_FORMAT": "true",
        "ASSISTANT_LOG__LEVEL": "DEBUG",
    }


# -- the scenario -------------------------------------------------------------------------------


@dataclass
class Scenario:
    """What the system wrote and answered while every failure path ran."""

    responses: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    log: str = ""
    metrics: str = ""
    redis_items: dict[str, bytes] = field(default_factory=dict)
    duckdb_tables: dict[str, str] = field(default_factory=dict)
    duckdb_bytes: bytes = b""
    report: str = ""
    cli: dict[str, str] = field(default_factory=dict)
    upstream_auth: list[str] = field(default_factory=list)


def _keep(
    scenario: Scenario, response: httpx.Response, body: bytes | None = None, label: str = ""
) -> None:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    content = body if body is not None else response.content
    scenario.statuses.append(response.status_code)
    scenario.responses.append(f"{response.status_code}\n{headers}\n{content.decode('latin-1')}")
    scenario.labels.append(label or f"{response.request.method} {response.request.url.path}")


def _drive_api(base_url: str, scenario: Scenario, every_path: bool = True) -> None:
    """Send the requests; with ``every_path`` false, one failure per provider only."""
    bob = {"Authorization": f"Bearer {CANARIES['client_bob']}"}
    admin = {"Authorization": f"Bearer {CANARIES['admin']}"}
    url = f"{base_url}/v1/chat/completions"
    with httpx.Client(timeout=30) as client:

        def chat(model: str, headers: dict[str, str], stream: bool = False, **extra: Any) -> None:
            body = {
                "model": model,
                "stream": stream,
                "messages": [{"role": "user", "content": "What is the capital of France?"}],
                **extra,
            }
            if stream:
                with client.stream("POST", url, json=body, headers=headers) as response:
                    _keep(scenario, response, response.read(), f"{model} streamed")
            else:
                _keep(scenario, client.post(url, json=body, headers=headers), label=model)

        for provider in PROVIDERS:
            for behaviour in BEHAVIOURS if every_path else ("partial-401",):
                for stream in (False, True):
                    chat(f"{provider}:{behaviour}", bob, stream)
        for stream in (False, True):
            chat("everything", bob, stream)
            chat("broken", bob, stream)
            chat("helper", bob, stream)
        for _ in range(2):  # a miss then a hit, whole and streamed: entries in Redis
            chat("leaky:ok", bob, False, temperature=0)
            chat("openai:ok", bob, True, temperature=0)
            chat("anthropic:ok", admin, False, temperature=0)
        for wrong in (CANARIES["wrong_key"], NEAR_MISS, CANARIES["redis_password"], ""):
            chat("leaky:ok", {"Authorization": f"Bearer {wrong}".strip()})
            chat("leaky:ok", {"Authorization": wrong})
            chat("leaky:ok", {"X-Api-Key": wrong})
        alice = {"Authorization": f"Bearer {CANARIES['client_alice']}"}
        for _ in range(5):  # 3 a minute: the last ones are 429
            chat("leaky:echo-500", alice)
        for headers in (bob, admin, alice, {}):
            for method, path in (
                ("GET", "/v1/admin/usage"),
                ("GET", "/v1/cache/stats"),
                ("GET", "/v1/models"),
                ("GET", "/v1/models/openai:gpt-4o-mini"),
                ("GET", "/ready"),
                ("GET", "/health"),
                ("GET", "/openapi.json"),
            ):
                _keep(scenario, client.request(method, f"{base_url}{path}", headers=headers))
        _keep(scenario, client.delete(f"{base_url}/v1/cache", params={"model": "x"}, headers=admin))


def _read_redis(redis_url: str) -> dict[str, bytes]:
    """Every key, with its ``DUMP``, its value by type, and a cache entry decompressed."""
    items: dict[str, bytes] = {}
    with redis.Redis.from_url(redis_url) as client:
        for key in client.scan_iter(count=500):  # bounded: one pass over the keyspace
            kind = client.type(key).decode()
            parts = [client.dump(key) or b""]
            if kind == "string":
                value = client.get(key) or b""
                parts += [value, _decompressed(value)]
            elif kind == "hash":
                parts += [k + b"=" + v for k, v in client.hgetall(key).items()]
            elif kind == "list":
                parts += list(client.lrange(key, 0, -1))
            elif kind == "zset":
                parts += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
            elif kind == "set":
                parts += list(client.smembers(key))
            items[key.decode("latin-1")] = b"\n".join(parts)
    return items


def _decompressed(value: bytes | None) -> bytes:
    """The zstd payload of a cache entry (format byte ``z`` and an 8-byte cost first)."""
    if value and value[:1] == b"z" and len(value) > 9:
        try:
            return zstandard.ZstdDecompressor().decompressobj().decompress(value[9:])
        except zstandard.ZstdError:
            return b""
    return b""


def _read_duckdb(path: Path) -> dict[str, str]:
    tables: dict[str, str] = {}
    with duckdb.connect(str(path), read_only=True) as db:
        names = [
            row[0]
            for row in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        ]
        for name in names:
            rows = db.execute(f'SELECT * FROM "{name}"').fetchall()  # noqa: S608 - own table names
            tables[name] = "\n".join(repr(row) for row in rows)
    return tables


def _cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return f"$ assistant {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """Run everything once; the tests below each search one kind of output."""
    folder = tmp_path_factory.mktemp("secrets")
    result = Scenario()
    port = free_port()
    password = CANARIES["redis_password"]
    redis_server = start_redis(port, folder, password)
    redis_url = f"redis://:{password}@127.0.0.1:{port}/0"
    eval_db = folder / "runs.duckdb"
    try:
        with LeakyUpstream(slow_seconds=3.0) as upstream:
            env = settings_env(upstream, redis_url, eval_db)
            with serving(folder, env) as (base_url, log):
                _drive_api(base_url, result)
                result.metrics = httpx.get(f"{base_url}/metrics", timeout=10).text
                result.redis_items = _read_redis(redis_url)
                redis_server.terminate()  # Redis goes away: cache, limits and sessions fail over
                redis_server.wait(timeout=10)
                _drive_api(base_url, result, every_path=False)
                result.metrics += httpx.get(f"{base_url}/metrics", timeout=10).text
            result.log = log.read_text(errors="replace")
            dataset = folder / "canary.jsonl"
            dataset.write_text("".join(json.dumps(case) + "\n" for case in DATASET))
            targets = [arg for target in EVAL_TARGETS for arg in ("--target", target)]
            result.cli["eval run"] = _cli(env, folder, "eval", "run", str(dataset), *targets)
            with duckdb.connect(str(eval_db), read_only=True) as db:
                (run_id,) = db.execute("SELECT run_id FROM runs").fetchone() or ("",)
            report = folder / "report.html"
            result.cli["eval report"] = _cli(
                env, folder, "eval", "report", str(run_id), "--html", str(report)
            )
            result.report = report.read_text()
            commands = [
                ["config"],
                ["models"],
                ["keys"],
                ["eval", "show", str(run_id)],
                ["cache", "stats"],
                ["chat", "--model", "anthropic:partial-401", "hi"],
            ]
            with ThreadPoolExecutor(max_workers=3) as pool:  # each is mostly start-up time
                outputs = pool.map(lambda command: _cli(env, folder, *command), commands)
                result.cli.update(zip((" ".join(c) for c in commands), outputs, strict=True))
            result.upstream_auth = [
                seen.headers.get("authorization", "") + seen.headers.get("x-api-key", "")
                for seen in upstream.seen
            ]
        result.duckdb_tables = _read_duckdb(eval_db)
        result.duckdb_bytes = eval_db.read_bytes()
        yield result
    finally:
        if redis_server.poll() is None:
            redis_server.kill()
            redis_server.wait(timeout=10)


# -- the searches -------------------------------------------------------------------------------


@pytest.mark.scoreboard("secret", "the canary scenario drives every failure path")
def test_the_scenario_really_ran_every_path(scenario: Scenario, scoreboard: Any) -> None:
    """Guards the searches below: the keys reached the upstream, and the failures happened."""
    sent = "\n".join(scenario.upstream_auth)
    for name in ("openai", "openrouter", "together", "anthropic", "compatible"):
        assert CANARIES[name] in sent, f"the {name} key never reached the upstream"
    statuses = set(scenario.statuses)
    assert {200, 401, 403, 429}.issubset(statuses), statuses
    assert statuses & {502, 503, 504}, statuses
    assert any(key.startswith("assistant:") or "cache" in key for key in scenario.redis_items)
    assert scenario.duckdb_tables.get("results")
    assert "<html" in scenario.report.lower()
    assert '"request_id"' in scenario.log
    scoreboard.record(
        requests=len(scenario.statuses),
        statuses=dict(sorted({s: scenario.statuses.count(s) for s in statuses}.items())),
        upstream_requests=len(scenario.upstream_auth),
        canaries=len(CANARIES) + 1,
    )


@pytest.mark.scoreboard("secret", "no key in the server log")
def test_no_key_in_the_server_log(scenario: Scenario, scoreboard: Any) -> None:
    scoreboard.record(log_lines=scenario.log.count("\n"))
    assert leaks(scenario.log) == []


@pytest.mark.scoreboard("secret", "no key in any response (status, headers, body)")
def test_no_key_in_any_response(scenario: Scenario, scoreboard: Any) -> None:
    leaked = {i: leaks(text) for i, text in enumerate(scenario.responses) if leaks(text)}
    scoreboard.record(responses=len(scenario.responses), leaking=len(leaked))
    assert leaked == {}, [scenario.responses[i][:600] for i in list(leaked)[:3]]
    odd = [
        (label, text[-200:])
        for label, text in zip(scenario.labels, scenario.responses, strict=True)
        if text.startswith(("500", "501"))
    ]
    # Known bug, not a leak: a 200 whose body is not JSON (or is SSE to a whole request) is a
    # 500 "internal_error" instead of a 502; the body is the generic message, no key in it.
    assert {label.split(":")[-1].split()[0] for label, _ in odd} <= {"malformed", "stream-error"}
    assert all("The server had an error" in text for _, text in odd), odd


@pytest.mark.scoreboard("secret", "no key in /metrics")
def test_no_key_in_metrics(scenario: Scenario) -> None:
    assert "assistant_" in scenario.metrics
    assert leaks(scenario.metrics) == []


@pytest.mark.scoreboard("secret", "no key in Redis (every key and value)")
def test_no_key_in_redis(scenario: Scenario, scoreboard: Any) -> None:
    scoreboard.record(redis_keys=len(scenario.redis_items))
    for key, value in scenario.redis_items.items():
        assert leaks(key) == [], key
        assert leaks(value) == [], (key, value[:300])


@pytest.mark.scoreboard("secret", "no key in the eval store (DuckDB tables and file bytes)")
def test_no_key_in_duckdb(scenario: Scenario, scoreboard: Any) -> None:
    scoreboard.record(tables=len(scenario.duckdb_tables), file_bytes=len(scenario.duckdb_bytes))
    for table, text in scenario.duckdb_tables.items():
        assert leaks(text) == [], table
    assert leaks(scenario.duckdb_bytes) == []


@pytest.mark.scoreboard("secret", "no key in the HTML eval report")
def test_no_key_in_the_eval_report(scenario: Scenario) -> None:
    assert leaks(scenario.report) == []


@pytest.mark.scoreboard("secret", "no key in CLI output (config, models, keys, evals, chat)")
def test_no_key_in_cli_output(scenario: Scenario, scoreboard: Any) -> None:
    scoreboard.record(commands=len(scenario.cli))
    leaked = {command: leaks(text) for command, text in scenario.cli.items() if leaks(text)}
    assert leaked == {}, {command: scenario.cli[command][-800:] for command in leaked}
    assert "redis://" in scenario.cli["config"]  # the URL is shown, its password is not


# -- the redaction the scenario relies on, in isolation ------------------------------------------


@pytest.mark.scoreboard("secret", "a key quoted in part (OpenAI's first 12 characters) is redacted")
def test_fragments_of_a_key_are_redacted() -> None:
    from assistant.log import redact

    key = CANARIES["openai"]
    quoted = f"Incorrect API key provided: {key[:12]}{'*' * 20}{key[-4:]}; again {key}."
    cleaned = redact(quoted, [key])
    assert leaks(cleaned) == []
    assert cleaned.startswith("Incorrect API key provided: ***") and cleaned.endswith("***.")
    assert redact("nothing secret here", [key]) == "nothing secret here"


@pytest.mark.scoreboard("secret", "passwords inside URLs (Redis, SearXNG) are redacted too")
def test_passwords_in_urls_are_secrets_to_redact() -> None:
    from assistant.config import Settings, secret_values

    password = CANARIES["redis_password"]
    settings = Settings(
        cache={"backend": "redis", "redis_url": f"redis://:{password}@127.0.0.1:1/0"},
        server={"redis_url": f"redis://user:{password}x@127.0.0.1:1/0"},
        tools={"web_search": {"url": f"https://me:{password}y@search.example"}},
    )
    found = secret_values(settings)
    assert {password, password + "x", password + "y"} <= set(found)
    assert "" not in found
