"""A request-body size limit for the endpoints that compute on their body.

FastAPI reads a whole body before any dependency or validation runs, and Starlette sets no
limit. :func:`limited_body_route` makes a route class that refuses, with a **413**, a body
announced (``Content-Length``) or found (while it is streamed in) to exceed its limit, before
it is parsed; a smaller body is then handled as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

__all__ = ["limited_body_route"]


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"request body larger than {limit} bytes"},
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
    )


def limited_body_route(limit: int) -> type[APIRoute]:
    """An ``APIRoute`` class whose requests carry at most ``limit`` body bytes."""

    class LimitedBodyRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handle = super().get_route_handler()

            async def limited(request: Request) -> Response:
                announced = request.headers.get("content-length")
                if announced is not None and announced.isdigit() and int(announced) > limit:
                    return _too_large(limit)
                body = bytearray()
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > limit:
                        return _too_large(limit)
                request._body = bytes(body)  # what Request.body() returns from now on
                return await handle(request)

            return limited

    return LimitedBodyRoute
