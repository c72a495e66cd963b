"""API keys: hashed in config, checked in constant time on every ``/v1`` route.

Keys are never stored: the config holds their SHA-256 (:func:`hash_key`; ``assistant keys
new`` makes a key and prints its hash). A presented key is hashed and compared with *every*
configured hash using :func:`hmac.compare_digest`, so neither a match nor its position shows
in the timing. With no key configured, auth is off and any ``Authorization`` header (or none)
is accepted, as OpenWebUI sends one whatever the server wants.

A key may be limited to some models (others answer 404, as OpenAI does for a model you cannot
see) and to requests and tokens per minute (:mod:`assistant.server.ratelimit`). The admin key
opens the admin routes and every model, without limits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from assistant.config import ApiKeySettings, AuthSettings
from assistant.errors import AuthenticationError, ModelNotFoundError, PermissionDeniedError

KEY_PREFIX = "sk-aw-"
"""Prefix of generated keys, so they are recognisable (and found by secret scanners)."""


def hash_key(key: str) -> str:
    """The hex SHA-256 of an API key, as the config stores it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random API key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from."""

    name: str
    admin: bool = False
    models: frozenset[str] | None = None
    """Models and profiles allowed; ``None``: all."""
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    def may_use(self, model: str) -> bool:
        """Whether this key may call ``model``."""
        return self.models is None or model in self.models

    def check_model(self, model: str) -> None:
        """Raise 404 (as for an unknown model) when the key may not use ``model``."""
        if not self.may_use(model):
            raise ModelNotFoundError(model, "it does not exist or your API key has no access")


ANONYMOUS = Principal(name="anonymous")
"""Who calls when auth is off."""


def _principal(key: ApiKeySettings) -> Principal:
    return Principal(
        name=key.name,
        models=frozenset(key.models) if key.models is not None else None,
        requests_per_minute=key.requests_per_minute,
        tokens_per_minute=key.tokens_per_minute,
    )


class Authenticator:
    """Maps a presented key to its principal by hash, in constant time."""

    def __init__(self, settings: AuthSettings) -> None:
        self.enabled = settings.enabled
        self._entries: list[tuple[bytes, Principal]] = [
            (bytes.fromhex(key.sha256), _principal(key)) for key in settings.keys
        ]
        if settings.admin_sha256 is not None:
            self._entries.append((bytes.fromhex(settings.admin_sha256), Principal("admin", True)))

    def identify(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization`` header value; raises 401 when unknown."""
        if not self.enabled:
            return ANONYMOUS
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError(
                "You didn't provide an API key: send it as 'Authorization: Bearer <key>'."
            )
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: Principal | None = None
        for stored, principal in self._entries:  # no early exit: every hash is compared
            if hmac.compare_digest(stored, digest):
                found = principal
        if found is None:
            raise AuthenticationError("Incorrect API key provided.")
        return found


async def authenticate(request: Request) -> Principal:
    """Dependency of every ``/v1`` route: who calls, and is it within its request limit."""
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.identify(request.headers.get("authorization"))
    request.state.principal = principal
    if not principal.admin:
        await request.app.state.rate_limiter.admit(
            principal.name, principal.requests_per_minute, principal.tokens_per_minute
        )
    return principal


async def require_admin(request: Request) -> Principal:
    """Dependency of admin routes: the admin key only."""
    principal = await authenticate(request)
    if not principal.admin:
        raise PermissionDeniedError("This route needs the admin key.")
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]
AdminDep = Annotated[Principal, Depends(require_admin)]
