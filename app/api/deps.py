"""FastAPI dependencies: the shared Elasticsearch client, the settings, and write auth."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Final, cast

from elasticsearch import AsyncElasticsearch
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from app.api.health import HealthChecker
from app.api.lifetimes import PairLifetimeCache
from app.settings import GENERATION_HINT, SECRET_MIN_LENGTH, Settings, secret_problem

__all__ = [
    "API_TOKEN_MIN_LENGTH",
    "GENERATION_HINT",
    "WRITES_DISABLED",
    "AppSettings",
    "EsClient",
    "Health",
    "Lifetimes",
    "WriteAuth",
    "api_token_problem",
    "get_es",
    "get_health",
    "get_lifetimes",
    "get_settings",
    "log_write_access",
    "require_write_token",
    "write_token",
]

logger = logging.getLogger(__name__)

#: The shortest ``API_TOKEN`` that enables the write endpoints.
API_TOKEN_MIN_LENGTH: Final = SECRET_MIN_LENGTH

#: The answer to every write while no usable token is configured (unset, short, placeholder).
WRITES_DISABLED: Final = (
    "write endpoints are disabled: API_TOKEN is not configured on the server "
    f"(it must be a random string of at least {API_TOKEN_MIN_LENGTH} characters)"
)


def get_es(request: Request) -> AsyncElasticsearch:
    """The one ``AsyncElasticsearch`` client of the app (created by the lifespan)."""
    return cast(AsyncElasticsearch, request.app.state.es)


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return cast(Settings, request.app.state.settings)


def get_health(request: Request) -> HealthChecker:
    return cast(HealthChecker, request.app.state.health)


def get_lifetimes(request: Request) -> PairLifetimeCache:
    """The app's cache of the market pairs' lifetime figures."""
    return cast(PairLifetimeCache, request.app.state.lifetimes)


EsClient = Annotated[AsyncElasticsearch, Depends(get_es)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Health = Annotated[HealthChecker, Depends(get_health)]
Lifetimes = Annotated[PairLifetimeCache, Depends(get_lifetimes)]

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

    Without a usable ``API_TOKEN`` (see :func:`api_token_problem`) every write is refused
    (503): writes are never open, and never guarded by a guessable token.
    The token is compared in constant time (``secrets.compare_digest`` on the bytes; a
    non-ASCII token is sent as UTF-8).
    """
    expected = write_token(settings)
    if expected is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, WRITES_DISABLED)
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


def api_token_problem(token: SecretStr | None) -> str | None:
    """Why ``token`` cannot guard the write endpoints, or None when it can.

    Refused: unset or empty, a placeholder copied from an example (``change-me``), or
    shorter than :data:`API_TOKEN_MIN_LENGTH` characters (:func:`app.settings.secret_problem`).
    The reason never contains the token, so it can be logged.
    """
    return secret_problem("API_TOKEN", token)


def log_write_access(settings: Settings) -> None:
    """Say at start-up whether the write endpoints are enabled and, if not, why (a refused
    token is a warning: somebody meant to enable writes). Never logs the token."""
    problem = api_token_problem(settings.api_token)
    if problem is None:
        logger.info("write endpoints enabled (Authorization: Bearer <API_TOKEN>)")
    elif settings.api_token is None or not settings.api_token.get_secret_value():
        logger.info("write endpoints disabled: %s", problem)
    else:
        logger.warning(
            "write endpoints disabled: %s; every write is refused with 503 until it is "
            "replaced by a random string of at least %d characters (%s)",
            problem,
            API_TOKEN_MIN_LENGTH,
            GENERATION_HINT,
        )


def write_token(settings: Settings) -> str | None:
    """The configured token when it may enable writes (:func:`api_token_problem`)."""
    if settings.api_token is None or api_token_problem(settings.api_token) is not None:
        return None
    return settings.api_token.get_secret_value()


def _header_bytes(value: str) -> bytes:
    """The bytes the client sent: Starlette decodes header bytes as Latin-1, so a token
    sent as UTF-8 is compared byte for byte with the configured token in UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # not from a header: compare as UTF-8
        return value.encode()
