"""The public API is a contract: notebooks, the server and evals rely on exactly these names."""

from __future__ import annotations

import subprocess
import sys

import assistant
import evals

ASSISTANT_API = [
    "AllProvidersFailed",
    "Assistant",
    "AssistantError",
    "Availability",
    "CircuitOpenError",
    "ConfigError",
    "ContextLengthExceeded",
    "InvalidRequestError",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelRef",
    "Provider",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderTimeout",
    "ProviderUnavailableError",
    "SamplingParams",
    "ProfileSettings",
    "Settings",
    "Usage",
    "build_assistant",
    "get_settings",
    "load_settings",
]


def test_assistant_public_api_is_locked() -> None:
    assert sorted(assistant.__all__) == sorted(ASSISTANT_API)
    assert set(assistant.__all__) == set(assistant._EXPORTS)
    for name in assistant.__all__:
        assert getattr(assistant, name) is not None


EVALS_API = [
    "Call",
    "Case",
    "CaseResult",
    "Dataset",
    "DatasetError",
    "EvalError",
    "EvalStore",
    "RunInfo",
    "RunOptions",
    "RunSummary",
    "Score",
    "ScorerSpec",
    "Selector",
    "StoreError",
    "TargetOutput",
    "build_scorer",
    "by_tag",
    "call_table",
    "calls_made",
    "check_calls",
    "compare",
    "evaluate",
    "gate",
    "leaderboard",
    "list_datasets",
    "load_dataset",
    "mean_ci",
    "open_store",
    "register_scorer",
    "render_html",
    "resolve_target",
    "results_frame",
    "run_eval",
    "run_options",
    "scorer_factory",
    "scorer_names",
]


def test_evals_public_api_is_locked() -> None:
    assert sorted(evals.__all__) == sorted(EVALS_API)
    for name in evals.__all__:
        assert getattr(evals, name) is not None


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, assistant, assistant.cli;"
        "print(any(m.startswith(('langchain', 'llama_cpp')) for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False", (
        "assistant and its CLI must not import LangChain or llama.cpp eagerly"
    )


def test_model_ref_splits_on_the_first_colon() -> None:
    ref = assistant.ModelRef.parse("ollama:llama3.2:3b")
    assert (ref.provider, ref.model) == ("ollama", "llama3.2:3b")
    assert str(ref) == "ollama:llama3.2:3b"
