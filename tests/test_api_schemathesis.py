"""schemathesis against the server's own OpenAPI document: generated requests, positive and
negative, for every operation. No 5xx, and every error body is OpenAI's error object.

In-process (ASGI) with a scripted model, so each example costs milliseconds.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from assistant.server import create_app
from tests.fakes.scripted import ScriptedChatModel, ScriptedProvider, reply, scripted_assistant

ERROR_KEYS = {"message", "type", "param", "code"}


def _app() -> Any:
    model = ScriptedChatModel(script=[reply("fine")], cycle=True)
    assistant = scripted_assistant(
        ScriptedProvider("s", model), profiles={"helper": {"model": "s:m", "tools": []}}
    )
    assistant.settings = assistant.settings.model_copy(update={"default_model": "s:m"})
    return create_app(assistant.settings, assistant)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@pytest.mark.scoreboard("hostile", "schemathesis: generated requests for every operation")
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples on every run: CI failures reproduce
)
def test_no_server_errors_and_every_error_is_openai_shaped(case: Any) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == ERROR_KEYS, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
