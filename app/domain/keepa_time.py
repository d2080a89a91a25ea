"""Keepa time <-> UTC datetime.

Keepa timestamps are whole minutes since 2011-01-01 00:00 UTC ("Keepa minutes"):
``unix_seconds = (keepa_minutes + 21_564_000) * 60``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.utc import require_utc

__all__ = ["KEEPA_EPOCH", "KEEPA_MINUTES_OFFSET", "from_keepa_minutes", "to_keepa_minutes"]

#: Minutes between the Unix epoch and the Keepa epoch.
KEEPA_MINUTES_OFFSET = 21_564_000
#: 2011-01-01 00:00 UTC, Keepa minute 0.
KEEPA_EPOCH = datetime(2011, 1, 1, tzinfo=UTC)


def from_keepa_minutes(minutes: int) -> datetime:
    """Keepa minutes -> aware UTC datetime. Raises ``OverflowError`` for absurd values."""
    return KEEPA_EPOCH + timedelta(minutes=minutes)


def to_keepa_minutes(value: datetime) -> int:
    """Aware datetime -> Keepa minutes, truncated to the whole minute (floor)."""
    delta = require_utc(value) - KEEPA_EPOCH
    return delta // timedelta(minutes=1)
