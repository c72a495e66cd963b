"""Providers come from the ``assistant.providers`` entry points: built-ins and plugins alike."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import ModelNotFoundError, ProviderUnavailableError
from assistant.providers import ModelCatalog, ProviderRegistry

BUILT_INS = {"anthropic", "local", "ollama", "openai", "openrouter", "together"}

PLUGIN = """
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from assistant.config import ResilienceSettings
from assistant.providers import Availability, Provider


class EchoProvider(Provider):
    name = "echoplug"
    resilience = ResilienceSettings(max_retries=0)

    def availability(self):
        return Availability(True)

    def list_models(self):
        return ["parrot"]

    def chat_model(self, model):
        return FakeListChatModel(responses=["squawk"])


def providers(settings):
    return [EchoProvider()]


def broken(settings):
    raise RuntimeError("plugin exploded")
"""


@pytest.fixture
def plugin_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed distribution (dist-info with entry points), as pip would leave it."""
    site = tmp_path / "site"
    (site / "echoplug-0.1.dist-info").mkdir(parents=True)
    (site / "echo_plugin.py").write_text(PLUGIN)
    (site / "echoplug-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: echoplug\nVersion: 0.1\n"
    )
    (site / "echoplug-0.1.dist-info" / "entry_points.txt").write_text(
        "[assistant.providers]\necho = echo_plugin:providers\nbroken = echo_plugin:broken\n"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()


def test_built_ins_are_registered_through_entry_points() -> None:
    registry = ProviderRegistry.from_entry_points(Settings())
    assert {provider.name for provider in registry} == BUILT_INS


def test_compatible_endpoints_become_providers() -> None:
    settings = Settings(
        providers={"compatible": {"vllm": {"base_url": "http://127.0.0.1:9/v1", "models": ["q"]}}}
    )
    registry = ProviderRegistry.from_entry_points(settings)
    assert "vllm" in registry
    ids = [info.id for info in ModelCatalog(registry).list_models()]
    assert "vllm:q" in ids


def test_plugins_load_and_broken_ones_are_skipped(
    plugin_on_path: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        registry = ProviderRegistry.from_entry_points(Settings())
    assert "echoplug" in registry
    assert "plugin exploded" in caplog.text and "broken" in caplog.text
    catalog = ModelCatalog(registry)
    assert catalog.chat_model("echoplug:parrot").invoke("hi").content == "squawk"


def test_catalog_errors_name_what_to_fix() -> None:
    catalog = ModelCatalog(
        ProviderRegistry.from_entry_points(Settings()), {"fast": ["openai:gpt-4o-mini"]}
    )
    with pytest.raises(ModelNotFoundError, match="no provider 'nope'"):
        catalog.chat_model("nope:x")
    with pytest.raises(ModelNotFoundError, match="expected 'provider:model'"):
        catalog.chat_model("justaname")
    with pytest.raises(ModelNotFoundError, match="local has no model 'missing'"):
        catalog.chat_model("local:missing")
    with pytest.raises(ProviderUnavailableError, match="ASSISTANT_PROVIDERS__OPENAI__API_KEY"):
        catalog.chat_model("openai:gpt-4o-mini")
    with pytest.raises(ProviderUnavailableError, match="no model of the chain"):
        catalog.chat_model("fast")
    chain = next(info for info in catalog.list_models() if info.id == "fast")
    assert (
        chain.kind == "chain" and not chain.available and "OPENAI__API_KEY" in (chain.reason or "")
    )
