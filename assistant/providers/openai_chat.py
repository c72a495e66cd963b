"""``ChatOpenAI`` as the gateway needs it: a client's ``response_format`` sent as it came.

LangChain changes a ``response_format`` in two places: ``bind_tools`` unwraps an OpenAI
``json_schema`` and rebuilds it as a function (a ValueError for a schema without ``title``),
and a request carrying one goes through the openai SDK's ``parse`` / ``stream`` helpers, which
refuse any tool not marked ``strict`` ("Only `strict` function tools can be auto-parsed"). A
client's ``response_format`` is the upstream's business: here it is bound as a call argument
and sent in the body unchanged (the SDK's ``extra_body``), on the ordinary create path.
Imported only where a hosted model is built (LangChain's OpenAI module is heavy).
"""

from __future__ import annotations

from typing import Any

from langchain_openai import ChatOpenAI


class GatewayChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` that relays ``response_format`` verbatim."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        """``ChatOpenAI.bind_tools``, with ``response_format`` bound untouched."""
        response_format = kwargs.pop("response_format", None)
        bound = super().bind_tools(tools, **kwargs)
        return bound if response_format is None else bound.bind(response_format=response_format)

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
