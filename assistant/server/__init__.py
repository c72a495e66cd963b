"""The OpenAI-compatible HTTP API."""

from assistant.server.app import create_app

__all__ = ["create_app"]
