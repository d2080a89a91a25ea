"""The bodies the receiver answers with (documented in docs/contract.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

__all__ = ["Accepted", "Health", "Refused"]


class Accepted(BaseModel):
    """200: the notification is on ``keepa.notifications`` (the broker acknowledged it)."""

    status: Literal["published"] = "published"
    notification_id: str
    asin: str
    market: str


class Refused(BaseModel):
    """400 (with the ``reason`` code of the dead letter), 404, 413 or 503."""

    detail: str
    reason: str | None = None


class Health(BaseModel):
    """``GET /health``: 200 with ``ok`` when notifications can be published, else 503."""

    status: Literal["ok", "unavailable"]
    detail: str
