"""Timezone-aware UTC datetimes: validation, ISO-8601 parsing and 'Z' formatting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

__all__ = ["format_utc", "parse_utc", "require_utc"]


def require_utc(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; raise ``ValueError`` if it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def parse_utc(text: str) -> datetime:
    """Parse an ISO-8601 timestamp that carries an offset (``Z`` or ``+hh:mm``) into UTC.

    Raises ``ValueError`` for malformed text or a timestamp without a timezone.
    """
    return require_utc(datetime.fromisoformat(text), "timestamp")


def format_utc(value: datetime, *, timespec: Literal["auto", "seconds"] = "auto") -> str:
    """ISO-8601 in UTC with a ``Z`` suffix, e.g. ``2025-03-01T12:00:00Z``.

    Microseconds are kept when non-zero, so ``parse_utc(format_utc(x)) == x``; with
    ``timespec="seconds"`` they are dropped (rounded down), as in the envelopes' ``fetched_at``.
    """
    return require_utc(value).isoformat(timespec=timespec).replace("+00:00", "Z")
