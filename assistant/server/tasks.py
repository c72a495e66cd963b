"""OpenWebUI's background tasks: recognised, and answered cheaply.

Besides the chat, OpenWebUI sends its own requests to the chat's model: a title, tags,
follow-up questions, search queries, autocomplete, an image prompt. Sent to an agent profile,
each would run the agent loop, its tools and retrieval. They are recognised by the
``X-OpenWebUI-Task`` header (OpenWebUI sends it when the connection's custom headers say
``{"X-OpenWebUI-Task": "{{TASK}}"}``), by ``metadata.task`` in the body when a client keeps
it, or by OpenWebUI's default prompt templates, and answered by ``server.tasks.model`` (default:
the asked model, or the profile's model) as a raw model: no tools, ``temperature`` 0 unless the
request sets one, so they are cached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from assistant.config import TaskSettings
from assistant.server.wire.chat import ChatCompletionRequest, TextPart

HEADER = "x-openwebui-task"
RESPONSE_HEADER = "X-Assistant-Task"

_TEMPLATE = re.compile(r"^\s*#{2,3}\s*Task:\s*(?P<first>[^\n]*\n?[^\n]*)", re.IGNORECASE)
_KINDS = (
    ("title", "title_generation"),
    ("tags", "tags_generation"),
    ("follow-up", "follow_up_generation"),
    ("search queries", "query_generation"),
    ("autocompletion", "autocomplete_generation"),
    ("image generation", "image_prompt_generation"),
)
_NOT_TASKS = {"", "none", "null", "chat"}


def _last_user_text(body: ChatCompletionRequest) -> str:
    for message in reversed(body.messages):
        if message.role != "user":
            continue
        if isinstance(message.content, str):
            return message.content
        return "".join(p.text for p in message.content or [] if isinstance(p, TextPart))
    return ""


_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _name(task: str) -> str:
    """The task's name as it may be echoed in a header (client text otherwise)."""
    return task if _NAME.fullmatch(task) else "background_task"


def template_task(body: ChatCompletionRequest) -> str | None:
    """The task an OpenWebUI default prompt template asks for, if the last user message is
    one (``### Task:`` then what to generate from ``<chat_history>``)."""
    text = _last_user_text(body)
    match = _TEMPLATE.match(text)
    if match is None or ("chat_history" not in text.lower() and "### output" not in text.lower()):
        return None
    first = match.group("first").lower()
    for word, task in _KINDS:
        if word in first:
            return task
    return "background_task"


def background_task(
    headers: Mapping[str, str], body: ChatCompletionRequest, settings: TaskSettings
) -> str | None:
    """The background task this request is, or ``None`` for a chat."""
    if not settings.enabled:
        return None
    named = (headers.get(HEADER) or "").strip()
    if named.lower() not in _NOT_TASKS:
        return _name(named)
    if body.metadata is not None:
        task = body.metadata.get("task")
        if isinstance(task, str) and task.strip().lower() not in _NOT_TASKS:
            return _name(task.strip())
    if settings.detect_prompts and not body.tools:
        return template_task(body)
    return None


def task_request(body: ChatCompletionRequest, model: str) -> ChatCompletionRequest:
    """The request a task is answered with: ``model``, no tools, deterministic by default."""
    return body.model_copy(
        update={
            "model": model,
            "tools": None,
            "tool_choice": None,
            "temperature": 0.0
            if body.temperature is None and body.seed is None
            else body.temperature,
        }
    )
