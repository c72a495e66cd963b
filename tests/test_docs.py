"""The documentation matches the code: the generated settings reference and ``.env.example``
are up to date, every ``ASSISTANT_*`` variable the docs mention exists, and the example
config files load."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from assistant.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "tools" / "gen_config_docs.py"
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_docs", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


# -- generated files ------------------------------------------------------------------------


def test_generated_files_are_up_to_date() -> None:
    stale = [str(path.relative_to(ROOT)) for path in gen.stale_files(ROOT)]
    assert not stale, f"out of date: {stale}; run `uv run python tools/gen_config_docs.py`"


def test_check_mode_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--check"]) == 0
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "configuration.md", tmp_path / "docs" / "configuration.md")
    (tmp_path / ".env.example").write_text("# stale\n", encoding="utf-8")
    assert gen.main(["--check", "--root", str(tmp_path)]) == 1
    assert ".env.example" in capsys.readouterr().err
    assert gen.main(["--root", str(tmp_path)]) == 0  # regenerates...
    assert gen.main(["--check", "--root", str(tmp_path)]) == 0  # ...and is then up to date


def test_markers_are_required() -> None:
    with pytest.raises(ValueError, match="markers"):
        gen.replace_block("# no markers here\n", "table\n")


def test_env_example_lists_every_variable_commented_out() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    lines = text.splitlines()
    for variable in gen.variables():
        assert any(line.startswith(f"# {variable}=") for line in lines), variable
    assert not [line for line in lines if line and not line.startswith("#")], (
        ".env.example must set nothing: every line is a comment"
    )


def test_reference_covers_nested_and_dict_sections() -> None:
    variables = set(gen.variables())
    assert {
        "ASSISTANT_DEFAULT_MODEL",
        "ASSISTANT_CHAINS__<NAME>",
        "ASSISTANT_SERVER__PORT",
        "ASSISTANT_PROVIDERS__OPENAI__API_KEY",
        "ASSISTANT_PROVIDERS__LOCAL__MODELS__<NAME>__PATH",
        "ASSISTANT_PROVIDERS__COMPATIBLE__<NAME>__BASE_URL",
    } <= variables
    assert len(variables) == len(gen.variables()), "no variable is listed twice"


# -- every documented variable is real ------------------------------------------------------

_SAMPLES = {
    "secret": "sk-test-0123456789",
    "path": "/tmp/model.gguf",
    "int": "3",
    "float": "0.5",
    "str": "http://localhost:1234/v1",
    "list[str]": '["local:smollm2"]',
}


def _sample(setting: Any) -> str:
    if setting.env.endswith("_SHA256"):
        return "a" * 64  # a hex SHA-256, as the setting requires
    if setting.env.endswith("_REDIS_URL"):
        return "redis://localhost:6379/0"
    if setting.default is not None and not setting.required:
        # an empty variable counts as unset, so an empty default needs a real value here
        return str(gen._env_value(setting.default)) or "sample"
    return _SAMPLES[setting.type]


@pytest.mark.parametrize("setting", gen.settings_docs(), ids=lambda setting: setting.env)
def test_each_listed_variable_is_read(setting: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Setting the variable (``<NAME>`` -> ``EXAMPLE``) loads and lands at its documented path."""
    variable = setting.env.replace("<NAME>", "EXAMPLE")
    value = _sample(setting)
    monkeypatch.setenv(variable, value)
    if "COMPATIBLE__EXAMPLE" in variable and not variable.endswith("__BASE_URL"):
        monkeypatch.setenv("ASSISTANT_PROVIDERS__COMPATIBLE__EXAMPLE__BASE_URL", "http://x/v1")
    node: Any = load_settings()
    for part in setting.path:
        key = "example" if part == "<name>" else part
        node = node[key] if isinstance(node, dict) else getattr(node, key)
    if setting.type == "secret":
        assert node.get_secret_value() == value
    elif setting.type == "list[str]" and "CHAINS" in variable:
        assert node == ["local:smollm2"]
    elif setting.type not in ("list[str]",) and not setting.type.startswith("one of"):
        assert str(node) == value or str(node).lower() == value


DELIBERATELY_WRONG = {
    "ASSISTANT_PROVIDERS__OPENAI__API_KEZ",  # the typo in docs/configuration.md's error example
    "ASSISTANT_SOMETHING",  # an unknown top-level variable, documented as ignored
    "ASSISTANT_DEFAULT_MODLE",  # a top-level typo, documented as ignored
}


def test_docs_mention_only_real_variables() -> None:
    known = gen.known_variables()
    problems = {
        str(path.relative_to(ROOT)): unknown
        for path in DOC_FILES
        if (
            unknown := [
                name
                for name in gen.unknown_mentions(path.read_text(encoding="utf-8"), known)
                if name not in DELIBERATELY_WRONG
            ]
        )
    }
    assert not problems, f"ASSISTANT_* names that are not settings: {problems}"


def test_mention_checker() -> None:
    text = """
    ASSISTANT_PROVIDERS__OPENAI__API_KEY=sk-... ASSISTANT_CHAINS__FAST='a -> b'
    ASSISTANT_PROVIDERS__COMPATIBLE__<NAME>__BASE_URL ASSISTANT_PROVIDERS__COMPATIBLE__VLLM__API_KEY
    `ASSISTANT_*`, `ASSISTANT_PROVIDERS__OPENROUTER__*`, ASSISTANT_CONFIG
    ASSISTANT_PROVIDERS__OPENAI__API_KEZ ASSISTANT_SERVER__PROT ASSISTANT_NOPE__
    ASSISTANT_PROVIDERS__LOCAL__MODELS__SMOLLM2__N_CTX ASSISTANT_PROVIDERS__LOCAL__N_CTX
    """
    assert gen.unknown_mentions(text) == [
        "ASSISTANT_PROVIDERS__OPENAI__API_KEZ",
        "ASSISTANT_SERVER__PROT",
        "ASSISTANT_NOPE__",
        "ASSISTANT_PROVIDERS__LOCAL__N_CTX",
    ]


# -- example files --------------------------------------------------------------------------


def test_toml_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_CONFIG", str(ROOT / "assistant.toml.example"))
    settings = load_settings()
    assert settings.chains["fast"] == ["openrouter:openai/gpt-4o-mini", "local:smollm2"]
    assert settings.providers.compatible["vllm"].base_url == "http://localhost:8080/v1"
    assert "smollm2" in settings.providers.local.models, "the example keeps the default model"
    assert settings.server.host == "127.0.0.1"


def test_env_example_defaults_load_when_uncommented(tmp_path: Path) -> None:
    """Uncommenting every line that has a value (and no placeholder) changes nothing."""
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    settings_lines = [
        line[2:]
        for line in lines
        if line.startswith("# ASSISTANT_") and "<NAME>" not in line and not line.endswith("=")
    ]
    assert settings_lines
    (tmp_path / ".env").write_text("\n".join(settings_lines) + "\n", encoding="utf-8")
    # the autouse fixture has moved into tmp_path, where .env is read from
    assert load_settings().model_dump() == load_settings(_env_file=None).model_dump()
