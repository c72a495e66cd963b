"""Settings sources, their precedence, and errors that name the setting but never its value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.config import (
    ConfigError,
    Settings,
    config_file_path,
    load_settings,
    secret_values,
)

SECRETISH = "sk-live-canary-5f3a9c0d1e2b"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults and environment -------------------------------------------------------------------


def test_defaults_without_any_source() -> None:
    settings = load_settings()

    assert settings.default_model == "local:smollm2"
    assert settings.server.port == 8000
    assert settings.server.host == "127.0.0.1"
    assert settings.providers.openai.api_key is None
    assert settings.providers.compatible == {}
    assert settings.chains == {}
    assert config_file_path() is None


def test_env_prefix_and_nested_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_DEFAULT_MODEL", "openai:gpt-4o-mini")
    monkeypatch.setenv("ASSISTANT_SERVER__PORT", "9001")
    monkeypatch.setenv("ASSISTANT_LOG__LEVEL", "DEBUG")
    monkeypatch.setenv("ASSISTANT_PROVIDERS__OPENAI__API_KEY", SECRETISH)
    monkeypatch.setenv("ASSISTANT_PROVIDERS__OPENAI__MAX_RETRIES", "5")
    monkeypatch.setenv("ASSISTANT_PROVIDERS__COMPATIBLE__VLLM__BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("ASSISTANT_PROVIDERS__COMPATIBLE__VLLM__TIMEOUT", "2.5")
    monkeypatch.setenv("ASSISTANT_PROVIDERS__LOCAL__MODELS__SMOLLM2__N_CTX", "1024")
    monkeypatch.setenv("DEFAULT_MODEL", "unprefixed:ignored")

    settings = load_settings()

    assert settings.default_model == "openai:gpt-4o-mini"
    assert settings.server.port == 9001
    assert settings.log.level == "DEBUG"
    assert settings.providers.openai.api_key is not None
    assert settings.providers.openai.api_key.get_secret_value() == SECRETISH
    assert settings.providers.openai.max_retries == 5
    # Sections not named keep their defaults.
    assert settings.providers.openai.timeout == 60.0
    assert settings.server.host == "127.0.0.1"
    vllm = settings.providers.compatible["vllm"]
    assert vllm.base_url == "http://127.0.0.1:1/v1"
    assert vllm.timeout == 2.5
    assert settings.providers.local.models["smollm2"].n_ctx == 1024


def test_list_values_from_env_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_PROVIDERS__OPENAI__MODELS", '["gpt-a", "gpt-b"]')

    assert load_settings().providers.openai.models == ["gpt-a", "gpt-b"]


def test_init_overrides_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_SERVER__PORT", "9001")

    assert load_settings(server={"port": 9002}).server.port == 9002


# -- files --------------------------------------------------------------------------------------


def test_assistant_toml_in_cwd(tmp_path: Path) -> None:
    write(
        tmp_path / "assistant.toml",
        """
default_model = "fast"

[chains]
fast = "openrouter:openai/gpt-4o-mini -> local:smollm2"

[server]
port = 9100

[providers.compatible.gateway]
base_url = "http://127.0.0.1:2/v1"
max_retries = 0
""",
    )

    settings = load_settings()

    assert config_file_path() == Path("assistant.toml")
    assert settings.default_model == "fast"
    assert settings.server.port == 9100
    assert settings.chains == {"fast": ["openrouter:openai/gpt-4o-mini", "local:smollm2"]}
    assert settings.providers.compatible["gateway"].max_retries == 0


def test_file_named_by_assistant_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write(tmp_path / "assistant.toml", "[server]\nport = 1111\n")  # ignored when one is named
    named = write(tmp_path / "elsewhere" / "prod.toml", "[server]\nport = 2222\n")
    monkeypatch.setenv("ASSISTANT_CONFIG", str(named))

    assert config_file_path() == named
    assert load_settings().server.port == 2222


def test_missing_assistant_config_file_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nope" / "missing.toml"
    monkeypatch.setenv("ASSISTANT_CONFIG", str(missing))

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "ASSISTANT_CONFIG" in str(caught.value)
    assert str(missing) in str(caught.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    write(tmp_path / "assistant.toml", "[server\nport = 1\n")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "not valid TOML" in str(caught.value)


def test_dotenv_in_cwd(tmp_path: Path) -> None:
    write(
        tmp_path / ".env",
        "ASSISTANT_SERVER__PORT=9200\n"
        f"ASSISTANT_PROVIDERS__ANTHROPIC__API_KEY={SECRETISH}\n"
        "UNRELATED_VARIABLE=whatever\n",
    )

    settings = load_settings()

    assert settings.server.port == 9200
    assert settings.providers.anthropic.api_key is not None
    assert settings.providers.anthropic.api_key.get_secret_value() == SECRETISH


def test_precedence_env_then_dotenv_then_toml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write(tmp_path / "assistant.toml", "[server]\nport = 1111\nhost = '127.0.0.3'\nworkers = 3\n")
    write(tmp_path / ".env", "ASSISTANT_SERVER__PORT=2222\nASSISTANT_SERVER__HOST=127.0.0.2\n")
    monkeypatch.setenv("ASSISTANT_SERVER__PORT", "3333")

    settings = load_settings()

    assert settings.server.port == 3333  # environment beats .env and toml
    assert settings.server.host == "127.0.0.2"  # .env beats toml
    assert settings.server.workers == 3  # toml fills what nothing else sets

    monkeypatch.delenv("ASSISTANT_SERVER__PORT")
    assert load_settings().server.port == 2222
    (tmp_path / ".env").unlink()
    assert load_settings().server.port == 1111


# -- chains -------------------------------------------------------------------------------------


def test_chains_from_arrow_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_CHAINS__FAST", "openai:gpt-4o-mini ->local:smollm2")
    monkeypatch.setenv("ASSISTANT_CHAINS__SAFE", "  a:x  ->  b:y -> c:z ")

    chains = load_settings().chains

    assert chains == {
        "fast": ["openai:gpt-4o-mini", "local:smollm2"],
        "safe": ["a:x", "b:y", "c:z"],
    }


def test_chains_as_json_and_as_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_CHAINS", json.dumps({"one": "a:x -> b:y", "two": ["c:z"]}))

    assert load_settings().chains == {"one": ["a:x", "b:y"], "two": ["c:z"]}
    # Sources are merged key by key: a chain given in code joins those from the environment.
    assert load_settings(chains={"three": ["d:w", "e:v"]}).chains == {
        "one": ["a:x", "b:y"],
        "two": ["c:z"],
        "three": ["d:w", "e:v"],
    }


@pytest.mark.parametrize(
    ("chains", "expected"),
    [
        ({"fast": "a:x -> nocolon"}, "chain 'fast' must list 'provider:model' refs"),
        ({"fast": []}, "chain 'fast' must list 'provider:model' refs"),
        ({"bad:name": "a:x"}, "chain name 'bad:name' must not contain ':'"),
    ],
)
def test_invalid_chains(chains: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(chains=chains)

    assert "invalid setting chains (ASSISTANT_CHAINS)" in str(caught.value)
    assert expected in str(caught.value)


# -- unknown keys -------------------------------------------------------------------------------


def test_unknown_key_in_toml_section_is_rejected(tmp_path: Path) -> None:
    write(tmp_path / "assistant.toml", "[server]\nprot = 9000\n")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert str(caught.value) == (
        "invalid setting server.prot (ASSISTANT_SERVER__PROT): Extra inputs are not permitted"
    )


def test_unknown_key_in_env_section_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_PROVIDERS__OPENAI__API_KYE", SECRETISH)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    assert "providers.openai.api_kye" in message
    assert "ASSISTANT_PROVIDERS__OPENAI__API_KYE" in message
    assert SECRETISH not in message


# -- invalid values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "dotted"),
    [
        ("ASSISTANT_SERVER__PORT", "server.port"),
        ("ASSISTANT_SERVER__WORKERS", "server.workers"),
        ("ASSISTANT_LOG__LEVEL", "log.level"),
        ("ASSISTANT_LOG__JSON_FORMAT", "log.json_format"),
        ("ASSISTANT_PROVIDERS__OPENAI__TIMEOUT", "providers.openai.timeout"),
        ("ASSISTANT_PROVIDERS__LOCAL__ENABLED", "providers.local.enabled"),
        (
            "ASSISTANT_PROVIDERS__LOCAL__MODELS__SMOLLM2__N_CTX",
            "providers.local.models.smollm2.n_ctx",
        ),
        ("ASSISTANT_PROVIDERS__COMPATIBLE__VLLM__TIMEOUT", "providers.compatible.vllm.timeout"),
    ],
)
def test_invalid_value_names_setting_and_variable_but_not_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, dotted: str
) -> None:
    monkeypatch.setenv(variable, SECRETISH)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    assert message.startswith(f"invalid setting {dotted} ({variable}): ")
    assert SECRETISH not in message
    assert "\n" not in message
    assert caught.value.__cause__ is None  # the pydantic error (which quotes input) is dropped


def test_out_of_range_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_SERVER__PORT", "70000")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert str(caught.value) == (
        "invalid setting server.port (ASSISTANT_SERVER__PORT): "
        "Input should be less than or equal to 65535"
    )


def test_several_errors_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_SERVER__PORT", "abc")
    monkeypatch.setenv("ASSISTANT_SERVER__WORKERS", "0")
    monkeypatch.setenv("ASSISTANT_LOG__LEVEL", "LOUD")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert str(caught.value).endswith("(and 2 more)")


def test_missing_required_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_PROVIDERS__COMPATIBLE__VLLM__MAX_RETRIES", "1")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "providers.compatible.vllm.base_url" in str(caught.value)
    assert "ASSISTANT_PROVIDERS__COMPATIBLE__VLLM__BASE_URL" in str(caught.value)
    assert "Field required" in str(caught.value)


def test_invalid_value_in_toml(tmp_path: Path) -> None:
    write(tmp_path / "assistant.toml", f'[providers.openai]\nmax_retries = "{SECRETISH}"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    assert "providers.openai.max_retries" in message
    assert SECRETISH not in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ASSISTANT_PROVIDERS__OPENAI__MODELS", f"[{SECRETISH}"),
        ("ASSISTANT_CHAINS", f"{{{SECRETISH}"),
    ],
)
def test_malformed_json_in_env_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """Complex values must be JSON; a typo is bad configuration, not a crash."""
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert SECRETISH not in str(caught.value)
    assert "EnvSettingsSource" in str(caught.value)


# -- secrets ------------------------------------------------------------------------------------


def test_secret_keys_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_PROVIDERS__OPENAI__API_KEY", SECRETISH)
    monkeypatch.setenv("ASSISTANT_PROVIDERS__COMPATIBLE__GW__BASE_URL", "http://127.0.0.1:3/v1")
    monkeypatch.setenv("ASSISTANT_PROVIDERS__COMPATIBLE__GW__API_KEY", SECRETISH + "-gw")

    settings = load_settings()
    dumped = settings.model_dump(mode="json")

    assert dumped["providers"]["openai"]["api_key"] == "**********"
    assert dumped["providers"]["compatible"]["gw"]["api_key"] == "**********"
    assert dumped["providers"]["anthropic"]["api_key"] is None
    assert SECRETISH not in json.dumps(dumped)
    assert SECRETISH not in repr(settings)
    assert SECRETISH not in str(settings)
    assert sorted(secret_values(settings)) == [SECRETISH, SECRETISH + "-gw"]


def test_empty_key_is_not_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_PROVIDERS__OPENAI__API_KEY", "")

    assert secret_values(load_settings()) == []


def test_settings_model_is_constructible_directly() -> None:
    """``Settings(...)`` reads the same sources; ``load_settings`` only adds error translation."""
    assert Settings(server={"port": 8123}).server.port == 8123


# -- typos and empty values -----------------------------------------------------------------------


def test_top_level_typo_in_toml_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "assistant.toml", 'defualt_model = "local:smollm2"\n')
    with pytest.raises(ConfigError, match="unknown setting 'defualt_model'"):
        load_settings()


def test_top_level_typo_in_environment_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_DEFAULT_MODLE", "local:smollm2")
    with pytest.raises(ConfigError, match="ASSISTANT_DEFAULT_MODLE"):
        load_settings()


def test_unrelated_variables_in_dotenv_are_left_alone(tmp_path: Path) -> None:
    write(tmp_path / ".env", "OPENAI_API_KEY=not-ours\nASSISTANT_SERVER__PORT=9009\n")
    assert load_settings().server.port == 9009


def test_typo_inside_a_section_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_SERVER__PROT", "9000")
    with pytest.raises(ConfigError, match=r"server\.prot"):
        load_settings()


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_PROVIDERS__LOCAL__MODELS__SMOLLM2__N_THREADS", "")
    monkeypatch.setenv("ASSISTANT_PROVIDERS__OPENAI__BASE_URL", "")
    settings = load_settings()
    assert settings.providers.local.models["smollm2"].n_threads is None
    assert settings.providers.openai.base_url is None


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LOG__LEVEL", "debug")
    assert load_settings().log.level == "DEBUG"


def test_compatible_endpoint_cannot_shadow_a_built_in_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASSISTANT_PROVIDERS__COMPATIBLE__OPENAI__BASE_URL", "http://127.0.0.1:1/v1")
    with pytest.raises(ConfigError, match="compatible endpoint name 'openai'"):
        load_settings()
