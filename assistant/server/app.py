"""The FastAPI application: ``create_app(settings)``; nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from assistant.agent import Assistant, build_assistant
from assistant.config import Settings
from assistant.metrics import add_process_collectors, mark_process_dead
from assistant.server.auth import Authenticator
from assistant.server.errors import install_error_handlers
from assistant.server.middleware import CancelOnDisconnectMiddleware, RequestContextMiddleware
from assistant.server.ratelimit import rate_limiter
from assistant.server.routes import (
    admin,
    cache,
    chat,
    embeddings,
    health,
    metrics,
    models,
    responses,
)


def create_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    """The OpenAI-compatible API over ``assistant`` (built from ``settings`` if not given)."""
    built = assistant or build_assistant(settings)
    limiter = rate_limiter(settings.server.redis_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built.start_loading_local_models()
        yield
        await limiter.counters.aclose()
        await built.aclose()
        mark_process_dead()  # this worker's live gauges leave the shared view

    app = FastAPI(
        title="Assistant Workbench API",
        version="0.1.0",
        description="OpenAI-compatible chat API over the workbench's providers and agents.",
        lifespan=lifespan,
    )
    app.state.assistant = built
    app.state.settings = settings
    app.state.authenticator = Authenticator(settings.server.auth)
    app.state.rate_limiter = limiter
    install_error_handlers(app, built.secrets())
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(CancelOnDisconnectMiddleware)
    # Added last, so it runs first: ids, path and size limit apply to everything below.
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.server.limits.max_body_bytes,
        metrics=built.metrics,
    )
    app.include_router(models.router)
    app.include_router(chat.router)
    app.include_router(embeddings.router)
    app.include_router(responses.router)
    app.include_router(admin.router)
    app.include_router(cache.router)
    app.include_router(health.router)
    if built.metrics is not None:
        add_process_collectors(built.metrics)
        app.include_router(metrics.router)
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
