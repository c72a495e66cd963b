"""Shared fixtures: a clean settings environment, the real local model, a real server."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.agent import Assistant, build_assistant
from assistant.config import Settings, load_settings

pytest_plugins = ["tests.fakes.fixtures", "tests.scorer_support", "tests.scoreboard"]

ROOT = Path(__file__).resolve().parent.parent


def clean_environ() -> dict[str, str]:
    """The process environment without any ``ASSISTANT_*`` variable."""
    return {key: value for key, value in os.environ.items() if not key.startswith("ASSISTANT_")}


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's environment, ``.env`` or ``assistant.toml`` leaks into a test."""
    for key in list(os.environ):
        if key.startswith("ASSISTANT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def local_assistant() -> Iterator[Assistant]:
    """An assistant over the real embedded model, loaded once per test session."""
    assistant = build_assistant(Settings())
    yield assistant
    assistant.close()


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(
    base_url: str, process: subprocess.Popen[bytes], deadline_s: float = 60
) -> None:
    """Poll ``/health`` until it answers, the process dies, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling interval of a readiness probe, not synchronisation
    raise TimeoutError(f"server at {base_url} did not become healthy in {deadline_s}s")


@contextlib.contextmanager
def serving(
    folder: Path, env: dict[str, str] | None = None, *args: str
) -> Iterator[tuple[str, Path]]:
    """Run ``assistant serve ARGS`` on a free loopback port in ``folder`` (its working
    directory, and where ``server.log`` goes); yield its base URL and log once healthy."""
    port = free_port()
    log = folder / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), *args],
            cwd=folder,
            env=env if env is not None else clean_environ(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base_url, process)
            yield base_url, log
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``assistant serve`` running under uvicorn on loopback, as a user starts it."""
    with serving(tmp_path_factory.mktemp("server")) as (base_url, _):
        yield base_url


__all__ = [
    "clean_environ",
    "free_port",
    "load_settings",
    "serving",
    "start_redis",
    "wait_until_healthy",
]


def start_redis(port: int, workdir: Path, password: str | None = None) -> subprocess.Popen[bytes]:
    """A real redis-server on ``127.0.0.1:port`` (installed by `make test`), once it answers;
    with ``password``, one that requires it."""
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: `make test` installs it (apt-get install redis-server)"
        )
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            *(["--requirepass", password] if password else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall((f"AUTH {password}\r\n" if password else "").encode() + b"PING\r\n")
                if b"+PONG" in sock.recv(64):
                    return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.02)  # readiness polling interval, not synchronisation


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on loopback, private to this test run."""
    port = free_port()
    process = start_redis(port, tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
