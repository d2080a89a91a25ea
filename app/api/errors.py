"""Elasticsearch failures as clear HTTP errors instead of a bare 500.

* Elasticsearch unreachable or timing out, or too busy (429): **503**, retry later.
* An index that does not exist yet (the worker creates them at start-up): **503**.
* Any other error reported by Elasticsearch: **502** (a bad gateway answer), logged.
* Kafka unreachable (endpoints that read or write a topic): **503**
  (:func:`kafka_unavailable`); an invalid seller profile: **422** naming the field's path
  (:func:`invalid_profile`).

Every error body is ``{"detail": "..."}`` like FastAPI's own errors.
"""

from __future__ import annotations

import logging

from elasticsearch import ApiError, NotFoundError, TransportError
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.domain.profile import ProfileError

__all__ = [
    "INDEX_NOT_FOUND",
    "install_error_handlers",
    "invalid_profile",
    "is_index_not_found",
    "kafka_unavailable",
]

log = logging.getLogger(__name__)

INDEX_NOT_FOUND = "index_not_found_exception"


def is_index_not_found(exc: ApiError) -> bool:
    return isinstance(exc, NotFoundError) and exc.error == INDEX_NOT_FOUND


def _missing_index(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("index") or error.get("resource.id") or "?")
    return "?"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    if is_index_not_found(exc):
        index = _missing_index(exc)
        log.warning("%s %s: index %s does not exist", request.method, request.url.path, index)
        return JSONResponse(
            {
                "detail": f"Elasticsearch index {index} does not exist yet; "
                "start the worker (`arbitrage worker`), which creates the indices"
            },
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    if exc.meta.status == status.HTTP_429_TOO_MANY_REQUESTS:
        return JSONResponse(
            {"detail": "Elasticsearch is overloaded (429); retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    log.error("%s %s: Elasticsearch error %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": f"Elasticsearch error ({exc.meta.status} {exc.error})"},
        status_code=status.HTTP_502_BAD_GATEWAY,
    )


async def _transport_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: Elasticsearch unreachable: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "Elasticsearch is unreachable; retry later"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


def kafka_unavailable(exc: Exception) -> HTTPException:
    """The 503 of an endpoint whose topic could not be read or written (logged, not raised)."""
    log.warning("Kafka unavailable: %s: %s", type(exc).__name__, exc)
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"Kafka is unavailable ({type(exc).__name__}); retry later",
        headers={"Retry-After": "5"},
    )


def invalid_profile(exc: ProfileError) -> RequestValidationError:
    """The 422 of a profile (``PUT /profile``) or profile override (``POST /profit/quote``)
    that fails validation: ``loc`` is ``["body", "profile", *the field's path]``."""
    path = [] if exc.field == "profile" else exc.field.split(".")
    loc = ("body", "profile", *path)
    return RequestValidationError(
        [{"type": "invalid_profile", "loc": loc, "msg": str(exc), "input": None}]
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(TransportError, _transport_error)
