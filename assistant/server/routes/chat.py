"""``POST /v1/chat/completions``, whole or streamed, in OpenAI's wire format.

The request is checked (limits, the key's models), prepared once, and answered by
:mod:`assistant.server.answering` in the chat framing (:class:`~assistant.server.wire.frames.
ChatFraming`): raw models from the cache, whole or streamed; agent profiles run their agent;
OpenWebUI's background tasks go to the task model (:mod:`assistant.server.tasks`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from assistant.server import caching, tasks
from assistant.server.answering import answer_agent, answer_raw
from assistant.server.auth import PrincipalDep
from assistant.server.deps import AssistantDep
from assistant.server.limits import check_limits
from assistant.server.tasks import background_task, task_request
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
    check_limits(body, request.app.state.settings.server.limits)
    principal.check_model(body.model)
    limiter = request.app.state.rate_limiter

    async def spend(tokens: int) -> None:
        if not principal.admin:
            await limiter.spend(principal.name, tokens)

    settings = request.app.state.settings
    cache_control = request.headers.get("cache-control")
    task = background_task(request.headers, body, settings.server.tasks)
    profile = settings.profiles.get(body.model)
    model = settings.server.tasks.model or (profile.model if profile else body.model)
    # a key limited to some models never reaches another one through a task
    if task is not None and principal.may_use(model):
        prepared = prepare_chat(task_request(body, model))
        framing = ChatFraming(body.model, include_usage=prepared.include_usage)
        response = await answer_raw(
            prepared,
            assistant,
            framing,
            spend=spend,
            tenant=principal.name,
            cache_control=cache_control,
        )
        response.headers[tasks.RESPONSE_HEADER] = task
        return response
    prepared = prepare_chat(body)
    framing = ChatFraming(body.model, include_usage=prepared.include_usage)
    if assistant.is_agent(body.model):
        policy = caching.policy(body, principal.name, cache_control)
        return await answer_agent(prepared, assistant, framing, spend=spend, policy=policy)
    return await answer_raw(
        prepared,
        assistant,
        framing,
        spend=spend,
        tenant=principal.name,
        cache_control=cache_control,
    )
