"""The FastAPI application: ``create_app(settings)``; nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from assistant.agent import Assistant, build_assistant
from assistant.config import Settings
from assistant.server.errors import install_error_handlers
from assistant.server.routes import chat, health, models


def create_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    """The OpenAI-compatible API over ``assistant`` (built from ``settings`` if not given)."""
    built = assistant or build_assistant(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built.start_loading_local_models()
        yield
        await built.aclose()

    app = FastAPI(
        title="Assistant Workbench API",
        version="0.1.0",
        description="OpenAI-compatible chat API over the workbench's providers and agents.",
        lifespan=lifespan,
    )
    app.state.assistant = built
    install_error_handlers(app, built.secrets())
    app.include_router(models.router)
    app.include_router(chat.router)
    app.include_router(health.router)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker reads the settings itself)."""
    from assistant.config import load_settings, secret_values
    from assistant.log import configure_logging

    settings = load_settings()
    # each worker process configures its own logging (and redaction)
    configure_logging(
        settings.log.level, json_format=settings.log.json_format, secrets=secret_values(settings)
    )
    return create_app(settings)
