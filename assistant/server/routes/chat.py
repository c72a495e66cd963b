"""``POST /v1/chat/completions``, whole or streamed, in OpenAI's wire format.

The request is checked (limits, the key's models), prepared once, and answered by
:mod:`assistant.server.answering` in the chat framing (:class:`~assistant.server.wire.frames.
ChatFraming`): raw models from the cache, whole or streamed; agent profiles run their agent;
OpenWebUI's background tasks go to the task model (:mod:`assistant.server.tasks`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from assistant.server import tasks
from assistant.server.answering import answer
from assistant.server.auth import PrincipalDep
from assistant.server.deps import AssistantDep
from assistant.server.limits import check_limits
from assistant.server.wire.chat import ChatCompletionRequest
from assistant.server.wire.frames import ChatFraming
from assistant.server.wire.prepared import prepare_chat

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post("/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionRequest,
    assistant: AssistantDep,
    principal: PrincipalDep,
    request: Request,
) -> Any:
    """Answer a conversation, whole or as server-sent events; agent profiles run their agent."""
    settings = request.app.state.settings
    check_limits(body, settings.server.limits)
    principal.check_model(body.model)
    task = tasks.background_task(request.headers, body, settings.server.tasks)
    asked = body.model
    if task is not None:
        profile = settings.profiles.get(body.model)
        model = settings.server.tasks.model or (profile.model if profile else body.model)
        if principal.may_use(model):  # a key limited to some models never reaches another
            body = tasks.task_request(body, model)
        else:
            task = None
    prepared = prepare_chat(body)
    framing = ChatFraming(asked, include_usage=prepared.include_usage)
    response = await answer(prepared, assistant, framing, request=request, principal=principal)
    if task is not None:
        response.headers[tasks.RESPONSE_HEADER] = task
    return response
