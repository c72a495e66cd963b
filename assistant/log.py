"""Logging set-up for entry points, and redaction of secrets.

The library only calls ``logging.getLogger(__name__)``; ``configure_logging`` is for the CLI
and the server. Every handler it installs carries a :class:`RedactingFilter`, so a configured
key never reaches a log line even if an upstream error message quotes it.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

REDACTED = "***"
_MIN_SECRET_LENGTH = 6


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (6+ characters) replaced by ``***``, and every fragment of
    one too: any run of 6 or more characters that also occurs in a secret.

    Fragments matter because upstreams quote keys partly: OpenAI's 401 says
    ``Incorrect API key provided: sk-proj-abc1********wxyz``, the first 12 characters.
    """
    for secret in secrets:
        if len(secret) < _MIN_SECRET_LENGTH:
            continue
        if secret in text:
            text = text.replace(secret, REDACTED)
        text = _redact_fragments(text, secret)
    return text


@functools.lru_cache(maxsize=256)
def _pieces(secret: str) -> frozenset[str]:
    """Every 6-character piece of ``secret`` (cut once: redaction runs on every log line)."""
    width = _MIN_SECRET_LENGTH
    return frozenset(secret[i : i + width] for i in range(len(secret) - width + 1))


def _redact_fragments(text: str, secret: str) -> str:
    """``text`` with each run of characters covered by 6-character pieces of ``secret``
    replaced by ``***``."""
    width = _MIN_SECRET_LENGTH
    pieces = _pieces(secret)
    if not any(piece in text for piece in pieces):  # the common case, at C speed
        return text
    covered = [False] * len(text)
    for start in range(len(text) - width + 1):
        if text[start : start + width] in pieces:
            covered[start : start + width] = [True] * width
    out: list[str] = []
    for index, char in enumerate(text):
        if not covered[index]:
            out.append(char)
        elif index == 0 or not covered[index - 1]:
            out.append(REDACTED)
    return "".join(out)


class RedactingFilter(logging.Filter):
    """Replaces configured secrets in every record's formatted message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= _MIN_SECRET_LENGTH]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            cleaned = redact(message, self.secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
"""The id of the HTTP request being served (set by the server's middleware), logged with every
line written while serving it."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any ``extra`` fields."""

    _standard = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        current = request_id.get()
        if current is not None:
            payload["request_id"] = current
        for key, value in record.__dict__.items():
            if key not in self._standard:
                payload[key] = value
        if record.exc_info:
            payload["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(payload, default=str)


def configure_logging(
    level: str = "INFO", *, json_format: bool = False, secrets: Iterable[str] = ()
) -> None:
    """Install one stderr handler on the root logger (entry points only)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json_format
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
