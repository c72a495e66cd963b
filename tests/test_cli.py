"""The ``assistant`` command, run as a user runs it: a subprocess with a clean environment.

The local model is never run here (``tests/test_local_model.py`` covers it); every command
below either fails before reaching a model or only lists them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import closed_port

CANARY = "sk-canary-abcdef123"
SCRIPT = Path(sys.executable).parent / "assistant"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus ``ASSISTANT_*``, wide enough that tables do not wrap.

    Byte-code goes to a cache shared by this module's runs (see :func:`_bytecode_cache`), as
    it would on a developer's machine; without it every run compiles LangChain from source.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("ASSISTANT_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({"COLUMNS": "250", "PYTHONPYCACHEPREFIX": str(_PYCACHE[0])})
    env.update(extra)
    return env


_PYCACHE: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _bytecode_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    _PYCACHE[:] = [tmp_path_factory.mktemp("pycache")]
    yield
    _PYCACHE.clear()


def run(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m assistant.cli ARGS`` in ``cwd``, with stdin closed."""
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Exit ``code``, exactly one line on stderr, no traceback; return that line."""
    assert result.returncode == code, result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert lines[0].startswith("error: ")
    return lines[0]


# -- help and usage -----------------------------------------------------------------------------


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")

    assert result.returncode == 0, result.stderr
    for command in ("models", "chat", "serve", "config"):
        assert command in result.stdout
    assert "Traceback" not in result.stderr


def test_console_script_is_installed(tmp_path: Path) -> None:
    assert SCRIPT.is_file(), f"console script missing at {SCRIPT}"
    result = subprocess.run(
        [str(SCRIPT), "--help"],
        cwd=tmp_path,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout


def test_no_arguments_shows_help(tmp_path: Path) -> None:
    result = run(tmp_path)

    assert result.returncode in (0, 2)
    assert "models" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path, "frobnicate")

    assert result.returncode == 2
    assert "frobnicate" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path, "models", "--shiny")

    assert result.returncode == 2
    assert "--shiny" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# -- commands that build the assistant (run concurrently: each imports LangChain) -------------

HEAVY: dict[str, tuple[list[str], dict[str, str]]] = {
    "models": (
        ["models"],
        {
            "ASSISTANT_CHAINS__SAFE": "openai:gpt-4o-mini -> local:smollm2",
            "ASSISTANT_CHAINS__KEYLESS": "openai:gpt-4o-mini -> anthropic:claude-haiku-4-5",
            "ASSISTANT_PROVIDERS__COMPATIBLE__GW__BASE_URL": "http://127.0.0.1:9/v1",
            "ASSISTANT_PROVIDERS__COMPATIBLE__GW__API_KEY": CANARY,
            "ASSISTANT_PROVIDERS__COMPATIBLE__GW__MODELS": '["gw-model"]',
        },
    ),
    "models_bad_config": (["models"], {"ASSISTANT_SERVER__PORT": "abc"}),
    "chat_unknown_provider": (["chat", "-m", "nope:x", "hi"], {}),
    "chat_malformed_ref": (["chat", "-m", "no-colon-here", "hi"], {}),
    "chat_unconfigured": (["chat", "-m", "openai:gpt-4o-mini", "hi"], {}),
    "chat_upstream_down": (
        ["chat", "-m", "down:m", "hi"],
        {
            "ASSISTANT_PROVIDERS__COMPATIBLE__DOWN__BASE_URL": "http://127.0.0.1:{closed}/v1",
            "ASSISTANT_PROVIDERS__COMPATIBLE__DOWN__API_KEY": CANARY,
            "ASSISTANT_PROVIDERS__COMPATIBLE__DOWN__MAX_RETRIES": "0",
        },
    ),
}


@pytest.fixture(scope="module")
def heavy(
    tmp_path_factory: pytest.TempPathFactory, _bytecode_cache: None
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run every :data:`HEAVY` scenario, each in its own empty directory, mostly at once."""
    closed = str(closed_port())
    processes: dict[str, subprocess.Popen[str]] = {}
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def start(name: str) -> subprocess.Popen[str]:
        args, extra = HEAVY[name]
        env = clean_env(**{k: v.replace("{closed}", closed) for k, v in extra.items()})
        return subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", *args],
            cwd=tmp_path_factory.mktemp(name),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # The first scenario runs alone and fills the byte-code cache; the others then share it.
    first, *others = HEAVY
    try:
        for batch in ([first], others):
            for name in batch:
                processes[name] = start(name)
            for name in batch:
                process = processes[name]
                stdout, stderr = process.communicate(timeout=120)
                results[name] = subprocess.CompletedProcess(
                    process.args, process.returncode, stdout, stderr
                )
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    return results


def table_rows(stdout: str) -> dict[str, str]:
    """Rows of a rich table by their first cell."""
    return {line.split()[1]: line for line in stdout.splitlines() if line.count("│") >= 4}


def test_models_lists_availability_and_the_missing_setting(
    heavy: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = heavy["models"]

    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert " yes " in rows["local:smollm2"]
    openai_row = rows["openai:gpt-4o-mini"]
    assert " no " in openai_row
    assert "ASSISTANT_PROVIDERS__OPENAI__API_KEY" in openai_row
    assert "ASSISTANT_PROVIDERS__ANTHROPIC__API_KEY" in rows["anthropic:claude-sonnet-4-5"]
    assert " yes " in rows["gw:gw-model"]
    # A chain is available when one member is; when none is, it says why for each.
    assert " chain " in rows["safe"]
    assert " yes " in rows["safe"]
    keyless = rows["keyless"]
    assert " no " in keyless
    assert "ASSISTANT_PROVIDERS__OPENAI__API_KEY" in keyless
    assert "ASSISTANT_PROVIDERS__ANTHROPIC__API_KEY" in keyless
    assert CANARY not in result.stdout + result.stderr


def test_invalid_config_with_models_is_one_line_and_exit_2(
    heavy: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    line = assert_one_line_error(heavy["models_bad_config"], 2)
    assert "server.port" in line
    assert "ASSISTANT_SERVER__PORT" in line


def test_chat_with_unknown_provider_is_one_line_and_exit_1(
    heavy: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = heavy["chat_unknown_provider"]

    line = assert_one_line_error(result, 1)
    assert "nope:x" in line
    assert result.stdout == ""


def test_chat_with_malformed_ref_is_exit_1(
    heavy: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    line = assert_one_line_error(heavy["chat_malformed_ref"], 1)
    assert "provider:model" in line


def test_chat_with_unconfigured_provider_names_the_variable(
    heavy: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    line = assert_one_line_error(heavy["chat_unconfigured"], 1)
    assert "ASSISTANT_PROVIDERS__OPENAI__API_KEY" in line


def test_chat_upstream_failure_is_one_line_without_the_key(
    heavy: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    """A compatible endpoint that refuses connections: a provider error, never a traceback."""
    result = heavy["chat_upstream_down"]

    line = assert_one_line_error(result, 1)
    assert line.startswith("error: down: connection failed")
    assert CANARY not in result.stdout + result.stderr


# -- configuration errors -----------------------------------------------------------------------


def test_invalid_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run(tmp_path, "config", env=clean_env(ASSISTANT_SERVER__PORT="abc"))

    line = assert_one_line_error(result, 2)
    assert "server.port" in line
    assert "ASSISTANT_SERVER__PORT" in line
    assert "abc" not in line.replace("ASSISTANT", "")


def test_invalid_config_value_is_not_echoed(tmp_path: Path) -> None:
    env = clean_env(ASSISTANT_PROVIDERS__OPENAI__TIMEOUT=CANARY)

    result = run(tmp_path, "config", env=env)

    line = assert_one_line_error(result, 2)
    assert "providers.openai.timeout" in line
    assert CANARY not in result.stdout + result.stderr


def test_malformed_json_setting_is_exit_2(tmp_path: Path) -> None:
    env = clean_env(ASSISTANT_PROVIDERS__OPENAI__MODELS=f"[{CANARY}")

    result = run(tmp_path, "config", env=env)

    assert_one_line_error(result, 2)
    assert CANARY not in result.stdout + result.stderr


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    env = clean_env(ASSISTANT_CONFIG=str(tmp_path / "missing.toml"))

    result = run(tmp_path, "config", env=env)

    line = assert_one_line_error(result, 2)
    assert "ASSISTANT_CONFIG" in line
    assert "missing.toml" in line


def test_unknown_key_in_toml_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "assistant.toml").write_text("[server]\nprot = 1\n", encoding="utf-8")

    result = run(tmp_path, "config")

    line = assert_one_line_error(result, 2)
    assert "server.prot" in line


# -- config -------------------------------------------------------------------------------------


def test_config_prints_settings_without_secrets(tmp_path: Path) -> None:
    (tmp_path / "assistant.toml").write_text("[server]\nport = 8765\n", encoding="utf-8")
    env = clean_env(ASSISTANT_PROVIDERS__OPENAI__API_KEY=CANARY)

    result = run(tmp_path, "config", env=env)

    assert result.returncode == 0, result.stderr
    assert CANARY not in result.stdout + result.stderr
    settings = json.loads(result.stdout)
    assert settings["providers"]["openai"]["api_key"] == "**********"
    assert settings["server"]["port"] == 8765
    assert settings["default_model"] == "local:smollm2"
    assert "assistant.toml" in result.stderr


def test_config_names_no_file_when_none(tmp_path: Path) -> None:
    result = run(tmp_path, "config")

    assert result.returncode == 0, result.stderr
    assert "none" in result.stderr
    assert json.loads(result.stdout)["server"]["port"] == 8000


def test_keys_new_prints_a_key_once_and_an_entry_that_holds_its_hash(tmp_path: Path) -> None:
    import tomllib

    from assistant.config import Settings
    from assistant.server.auth import Authenticator

    made = run(tmp_path, "keys", "new", "alice", "--model", "local:smollm2", "--rpm", "60")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("sk-aw-") and key not in made.stderr
    entry = made.stderr[made.stderr.index("[[server.auth.keys]]") :].split("\n\n")[0]
    (tmp_path / "assistant.toml").write_text(entry + "\n")
    settings = Settings.model_validate(tomllib.loads(entry))
    principal = Authenticator(settings.server.auth).identify(f"Bearer {key}")
    assert (principal.name, principal.requests_per_minute) == ("alice", 60)
    assert principal.models == frozenset({"local:smollm2"})

    listed = run(tmp_path, "keys")
    assert listed.returncode == 0, listed.stderr
    assert "alice" in listed.stdout and "local:smollm2" in listed.stdout
    assert key not in listed.stdout and settings.server.auth.keys[0].sha256 not in listed.stdout


def test_cache_commands_work_on_the_shared_redis_cache(tmp_path: Path, redis_url: str) -> None:
    import asyncio

    from assistant.cache import RedisBackend, ResponseCache, request_key

    async def fill() -> None:
        cache = ResponseCache(RedisBackend(redis_url))
        await cache.invalidate("*")
        for model in ("local:smollm2", "local:smollm2", "openai:gpt-4o-mini"):
            name = request_key(tenant="t", model=model, messages=[{"n": len(model)}])
            await cache.put(name + model, b"answer")
        await cache.aclose()

    asyncio.run(fill())
    env = {
        **clean_env(),
        "ASSISTANT_CACHE__BACKEND": "redis",
        "ASSISTANT_CACHE__REDIS_URL": redis_url,
    }
    stats = run(tmp_path, "cache", "stats", env=env)
    assert stats.returncode == 0, stats.stderr
    assert "│       2 │" in stats.stdout or " 2 " in stats.stdout
    cleared = run(tmp_path, "cache", "clear", "--model", "openai:gpt-4o-mini", env=env)
    assert cleared.returncode == 0 and "deleted 1 cached answers" in cleared.stdout
    everything = run(tmp_path, "cache", "clear", env=env)
    assert "deleted 1 cached answers" in everything.stdout

    memory = run(tmp_path, "cache", "stats")
    assert memory.returncode == 2 and "GET /v1/cache/stats" in memory.stderr
    assert "Traceback" not in memory.stderr
    down = {**env, "ASSISTANT_CACHE__REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"}
    unreachable = run(tmp_path, "cache", "clear", env=down)
    assert unreachable.returncode == 1 and "Redis cache unavailable" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1
