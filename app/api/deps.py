"""FastAPI dependencies: the shared Elasticsearch client, the settings, and write auth."""

from __future__ import annotations

import secrets
from typing import Annotated, cast

from elasticsearch import AsyncElasticsearch
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.health import HealthChecker
from app.settings import Settings

__all__ = [
    "AppSettings",
    "EsClient",
    "Health",
    "WriteAuth",
    "get_es",
    "get_health",
    "get_settings",
    "require_write_token",
]


def get_es(request: Request) -> AsyncElasticsearch:
    """The one ``AsyncElasticsearch`` client of the app (created by the lifespan)."""
    return cast(AsyncElasticsearch, request.app.state.es)


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return cast(Settings, request.app.state.settings)


def get_health(request: Request) -> HealthChecker:
    return cast(HealthChecker, request.app.state.health)


EsClient = Annotated[AsyncElasticsearch, Depends(get_es)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Health = Annotated[HealthChecker, Depends(get_health)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description="`Authorization: Bearer <API_TOKEN>`; required by the write endpoints.",
)


def require_write_token(
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Allow a write only with ``Authorization: Bearer <API_TOKEN>``.

    Without a configured ``API_TOKEN`` every write is refused (503): writes are never open.
    The token is compared in constant time (``secrets.compare_digest`` on the bytes; a
    non-ASCII token is sent as UTF-8).
    """
    expected = settings.api_token.get_secret_value() if settings.api_token is not None else ""
    if not expected:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "write endpoints are disabled: API_TOKEN is not configured on the server",
        )
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(_header_bytes(credentials.credentials), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid bearer token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


WriteAuth = Depends(require_write_token)


def _header_bytes(value: str) -> bytes:
    """The bytes the client sent: Starlette decodes header bytes as Latin-1, so a token
    sent as UTF-8 is compared byte for byte with the configured token in UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # not from a header: compare as UTF-8
        return value.encode()
