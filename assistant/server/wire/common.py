"""What every OpenAI endpoint shares: lenient models, the Unicode check, SSE framing, ids."""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

DONE = b"data: [DONE]\n\n"
"""The last event of every stream."""


class Lenient(BaseModel):
    """A request model that ignores fields it does not know (as OpenAI's clients expect)."""

    model_config = ConfigDict(extra="ignore")


class UnencodableText(ValueError):
    """A request string UTF-8 cannot encode; ``param`` is where it is (``messages.0.content``)."""

    def __init__(self, param: str) -> None:
        super().__init__(
            "text that is not valid Unicode (an unpaired surrogate escape such as \\ud800)"
        )
        self.param = param or None


class UnicodeChecked(Lenient):
    """A request model that first refuses strings no UTF-8 can carry (see
    :func:`reject_unencodable`), naming where they are."""

    @model_validator(mode="before")
    @classmethod
    def _text_is_unicode(cls, data: Any) -> Any:
        return reject_unencodable(data)


def reject_unencodable(data: Any) -> Any:
    """``data`` unchanged, or :class:`UnencodableText` naming the first string no UTF-8 can
    carry (a lone surrogate such as ``"\\ud800"`` is valid JSON, but no model, provider or
    cache could take it: a 400, not a crash later)."""
    where = _unencodable(data, ())
    if where is not None:
        raise UnencodableText(".".join(where))
    return data


def _unencodable(value: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The path of the first string (or key) in ``value`` that UTF-8 cannot encode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = (*path, str(key) if isinstance(key, str) else repr(key))
            if isinstance(key, str) and _unencodable(key, ()) is not None:
                return (*path, "(key)")
            found = _unencodable(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unencodable(item, (*path, str(index)))
            if found is not None:
                return found
    return None


def event(payload: dict[str, Any] | str) -> bytes:
    """One server-sent ``data:`` event (a dict is written as compact JSON)."""
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return b"data: " + data.encode() + b"\n\n"


def named_event(name: str, payload: dict[str, Any]) -> bytes:
    """A server-sent event with an ``event:`` line (the Responses API's typed events)."""
    data = json.dumps(payload, separators=(",", ":"))
    return b"event: " + name.encode() + b"\ndata: " + data.encode() + b"\n\n"


def new_id(prefix: str, separator: str = "-", nbytes: int = 16) -> str:
    """A fresh id such as ``chatcmpl-...`` or ``resp_...`` (random hex; cheaper than
    ``uuid4``)."""
    return f"{prefix}{separator}{os.urandom(nbytes).hex()}"


STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""Headers of every server-sent event stream."""
