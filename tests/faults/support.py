"""Helpers of the fault-injection suite: served APIs, SSE parsing, Redis and DuckDB faults, CLI.

Everything is real and on loopback: ``assistant serve`` subprocesses, fake upstreams over
HTTP, a redis-server process, DuckDB files, SIGKILL/SIGSTOP. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import clean_environ, free_port, start_redis

ERROR_KEYS = {"message", "type", "param", "code"}


# -- the served API -----------------------------------------------------------------------------


def api_env(
    endpoints: dict[str, dict[str, Any]],
    chains: dict[str, str] | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of an ``assistant serve`` whose compatible providers are ``endpoints``
    (name -> settings), with ``chains`` (name -> ``"a:x -> b:y"``) and extra variables."""
    env = {
        **clean_environ(),
        "ASSISTANT_PROVIDERS__COMPATIBLE": json.dumps(endpoints),
        "ASSISTANT_CHAINS": json.dumps(chains or {}),
        "ASSISTANT_METRICS__ENABLED": "false",
        **extra,
    }
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(key, None)  # a developer's proxy must not route loopback traffic elsewhere
    return env


def resilience(**overrides: Any) -> dict[str, Any]:
    """Fast, deterministic resilience settings for a faulty endpoint: one retry, tiny backoff,
    a 1 s timeout and a breaker that never opens during the suite (tests share a server)."""
    return {
        "max_retries": 1,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "timeout": 1.0,
        "retry_after_max": 5.0,
        "breaker_threshold": 1000,
        "breaker_reset": 1.0,
        **overrides,
    }


def chat_body(model: str, *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    """A small chat request."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Say something."}],
        "stream": stream,
        **extra,
    }


@dataclass
class StreamResult:
    """A streamed answer as the client saw it."""

    status: int
    frames: list[str] = field(default_factory=list)
    """Every ``data:`` payload, in order (``[DONE]`` included)."""
    seconds: float = 0.0

    @property
    def events(self) -> list[dict[str, Any]]:
        """The JSON frames (every frame but ``[DONE]``)."""
        return [json.loads(frame) for frame in self.frames if frame != "[DONE]"]

    @property
    def text(self) -> str:
        """The content deltas, joined."""
        return "".join(
            choice["delta"].get("content") or ""
            for event in self.events
            for choice in event.get("choices", [])
        )

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The error frames' ``error`` objects."""
        return [event["error"] for event in self.events if "error" in event]

    @property
    def finish_reasons(self) -> list[str]:
        """Every ``finish_reason`` sent."""
        return [
            choice["finish_reason"]
            for event in self.events
            for choice in event.get("choices", [])
            if choice.get("finish_reason")
        ]


def stream_chat(base_url: str, body: dict[str, Any], timeout: float = 20) -> StreamResult:
    """POST a streamed chat request and read it to the end (bounded by ``timeout``)."""
    began = time.monotonic()
    result = StreamResult(0)
    with httpx.stream(
        "POST", f"{base_url}/v1/chat/completions", json={**body, "stream": True}, timeout=timeout
    ) as response:
        result.status = response.status_code
        if response.status_code != 200:
            response.read()
            result.frames = [response.text]
        else:
            for line in response.iter_lines():  # bounded: the server ends the stream
                if line.startswith("data: "):
                    result.frames.append(line[6:])
                if time.monotonic() - began > timeout:
                    raise TimeoutError(f"stream still open after {timeout}s")
    result.seconds = time.monotonic() - began
    return result


def assert_openai_error(body: Any) -> dict[str, Any]:
    """``body`` is ``{"error": {message, type, param, code}}`` with a message and no
    traceback; return the error object."""
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert isinstance(error["message"], str) and error["message"], error
    assert "Traceback" not in error["message"], error
    return dict(error)


def wait_for(
    condition: Callable[[], bool], timeout: float, interval: float = 0.05, what: str = ""
) -> float:
    """Poll ``condition`` until it holds (return the seconds it took) or fail at ``timeout``."""
    began = time.monotonic()
    deadline = began + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic() - began
        time.sleep(interval)  # polling interval, bounded by the deadline
    raise AssertionError(f"not within {timeout}s: {what or condition}")


# -- Redis --------------------------------------------------------------------------------------


class RedisControl:
    """One real redis-server on a fixed loopback port, which tests stop, freeze and restart."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.frozen = False

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start a fresh (empty) server; returns once it answers PING."""
        assert self.process is None, "already running"
        self.process = start_redis(self.port, self.workdir)

    def stop(self) -> None:
        """Kill the server (SIGKILL: a crash, not a clean shutdown) and reap it."""
        if self.process is None:
            return
        if self.frozen:
            self.thaw()
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        """``kill -STOP``: the server keeps its socket open and answers nothing."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """``kill -CONT``."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)
        self.frozen = False

    def command(self, *words: str) -> bytes:
        """One command over a raw socket (inline protocol); the raw reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(" ".join(words).encode() + b"\r\n")
            return sock.recv(65536)

    def keys(self, pattern: str) -> list[str]:
        """Key names matching ``pattern`` (parsed from the RESP array reply)."""
        reply = self.command("KEYS", pattern).decode()
        lines = reply.split("\r\n")
        return [line for line in lines[1:] if line and not line.startswith("$")]


# -- CLI and DuckDB -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    """An ``assistant`` command's exit code and outputs."""

    code: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        """The non-empty lines of stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 90
) -> CliResult:
    """Run ``python -m assistant.cli ARGS`` to completion (bounded by ``timeout``)."""
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        cwd=cwd,
        env={**clean_environ(), "COLUMNS": "400", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS holder_was_here (x INTEGER)")
print("locked", flush=True)
sys.stdin.read()  # hold the write lock until the test closes our stdin
con.close()
"""


@contextlib.contextmanager
def duckdb_held(path: Path, timeout: float = 30) -> Iterator[int]:
    """Another process holding a DuckDB write connection on ``path``; yields its pid and
    releases the lock (closing the connection) on exit."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], timeout)
        assert readable, f"the lock holder said nothing in {timeout}s"
        line = process.stdout.readline()  # ready: one line, or end of file if it died
        assert line.strip() == "locked", f"the lock holder failed: {line!r}"
        yield process.pid
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def assert_one_clear_line(result: CliResult, *needles: str) -> str:
    """A failed command said what went wrong in one line on stderr, with no traceback."""
    assert result.code != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr_lines
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]
    return lines[0]


__all__ = [
    "CliResult",
    "RedisControl",
    "StreamResult",
    "api_env",
    "assert_one_clear_line",
    "assert_openai_error",
    "chat_body",
    "duckdb_held",
    "resilience",
    "run_cli",
    "stream_chat",
    "wait_for",
]
