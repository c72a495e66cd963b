"""``ChatOpenAI`` as the gateway needs it: a client's ``response_format`` sent as it came.

LangChain sends a request with ``response_format`` through the openai SDK's ``parse`` /
``stream`` helpers, which refuse any tool not marked ``strict`` ("Only `strict` function tools
can be auto-parsed") and parse the answer into objects the gateway does not need. A client's
``response_format`` is the upstream's business, so it goes in the body unchanged (the SDK's
``extra_body``) and the ordinary create path runs. Imported only where a hosted model is built
(LangChain's OpenAI module is heavy).
"""

from __future__ import annotations

from typing import Any

from langchain_openai import ChatOpenAI


class GatewayChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` that relays ``response_format`` verbatim."""

    def _get_request_payload(
        self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        response_format = kwargs.pop("response_format", None)
        payload: dict[str, Any] = super()._get_request_payload(input_, stop=stop, **kwargs)
        if response_format is not None:
            payload["extra_body"] = {
                **(payload.get("extra_body") or {}),
                "response_format": response_format,
            }
        return payload
