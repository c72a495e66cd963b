"""``POST /v1/responses``: the Responses API over the same answering code as chat.

The request is translated into the chat request it means
(:class:`~assistant.server.wire.responses.ResponsesRequest`), checked like one (limits, the
key's models, model features), answered by :mod:`assistant.server.answering` and written in
the Responses framing. With ``store`` (the default) the conversation is kept in the session
store (process memory, or Redis when ``sessions.redis_url`` is set, shared by every worker)
under the response's id, so a later request can continue it with ``previous_response_id``;
an id that is unknown, expired, stored by another worker without Redis, or sent with
``store: false`` is a 400 naming ``previous_response_id``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from langchain_core.messages import convert_to_messages, convert_to_openai_messages

from assistant.errors import InvalidRequestError
from assistant.server.answering import answer as answer_prepared
from assistant.server.auth import PrincipalDep
from assistant.server.deps import AssistantDep
from assistant.server.limits import check_limits
from assistant.server.wire.frames import Answer
from assistant.server.wire.prepared import prepare_chat
from assistant.server.wire.responses import ResponsesFraming, ResponsesRequest

router = APIRouter(prefix="/v1", tags=["responses"])


def session_key(tenant: str, response_id: str) -> str:
    """Where a stored response's conversation is kept: per API key, so no other key can
    continue (and read back) it."""
    return f"response:{tenant}:{response_id}"


@router.post("/responses", response_model=None)
async def create_response(
    body: ResponsesRequest, assistant: AssistantDep, principal: PrincipalDep, request: Request
) -> Any:
    """Answer a Responses API request, whole or as its typed events."""
    principal.check_model(body.model)
    history: list[dict[str, Any]] = []
    if body.previous_response_id:
        stored = await assistant.sessions.load(
            session_key(principal.name, body.previous_response_id)
        )
        if not stored:
            raise InvalidRequestError(
                f"Previous response with id '{body.previous_response_id}' not found (it was "
                "stored with store: false, has expired, or is kept by another worker: set "
                "sessions.redis_url to share them).",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        history = [dict(message) for message in convert_to_openai_messages(stored)]
    chat = body.chat_request(history)
    check_limits(chat, request.app.state.settings.server.limits)
    prepared = prepare_chat(chat)
    framing = ResponsesFraming(body)
    settings = request.app.state.settings

    async def keep(answer: Answer) -> None:
        skip = 1 if body.instructions else 0  # instructions are not carried over
        conversation = [*prepared.wire_messages[skip:], answer["message"]]
        await assistant.sessions.save(
            session_key(principal.name, framing.ident),
            convert_to_messages(conversation),
            settings.sessions.response_ttl,
        )

    on_answer = keep if body.store else None
    return await answer_prepared(
        prepared, assistant, framing, request=request, principal=principal, on_answer=on_answer
    )
