"""A request body read with a size limit, checked while it is read: a client announcing or
sending more than the limit is stopped there, and nothing bigger is ever held in memory."""

from __future__ import annotations

from typing import Final

from fastapi import Request

__all__ = ["MAX_BODY_BYTES", "BodyTooLargeError", "read_limited"]

#: A Keepa notification is ~1 KB (a title, an image name and ~36 prices).
MAX_BODY_BYTES: Final = 64 * 1024


class BodyTooLargeError(ValueError):
    """The body is longer than the limit (the request is answered 413)."""


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body of ``request``; :class:`BodyTooLargeError` as soon as its
    ``Content-Length`` or the bytes received so far exceed ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(f"the body is larger than {limit} bytes")
    return bytes(body)
