"""What the worker's periodic sweep asks for, decided without Faust and without a clock (the
caller passes ``now``).

The sweep never evaluates (only the detector agent may write the tables); it sends
re-evaluation requests (``arbitrage.reevaluations``):

* ``profile_changed`` for every ASIN whose routes were last evaluated with another profile
  than the one in force (:func:`profile_requests`);
* ``wall_clock`` for every ASIN with an open route one of whose quotes is older than
  ``stale_after`` at ``now`` (:func:`is_stale_at`).

:class:`PendingRequests` keeps it from asking again for the same (ASIN, reason, profile
version) while an earlier request is presumably still on its way, so a slow detector is not
flooded with duplicates; an entry expires after ``ttl`` (the request may have been handled
without changing what the sweep sees, e.g. a quote that went stale and fresh again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from app.domain.utc import require_utc

__all__ = ["PendingRequests", "Reason", "RequestKey", "is_stale_at", "profile_requests"]

#: Why an ASIN is re-evaluated (the ``reason`` of a re-evaluation request).
Reason = Literal["profile_changed", "wall_clock"]


def profile_requests(
    recorded: Iterable[tuple[bytes, str | None]], version_in_force: str
) -> list[bytes]:
    """The ASINs (keys) whose recorded profile version is not ``version_in_force`` (``None``,
    unknown, included), in the order given."""
    return [key for key, version in recorded if version != version_in_force]


def is_stale_at(quote_times: Iterable[datetime], now: datetime, stale_after: timedelta) -> bool:
    """True when one of ``quote_times`` (the ``observed_at`` of an ASIN's open routes' quotes)
    is more than ``stale_after`` before ``now``; the same rule as
    :func:`app.domain.detection.fresh_quotes` with ``now`` as the reference time."""
    now = require_utc(now, "now")
    return any(now - at > stale_after for at in quote_times)


@dataclass(frozen=True, slots=True)
class RequestKey:
    asin: bytes
    reason: Reason
    profile_version: str


@dataclass
class PendingRequests:
    """Requests sent and not yet expired; ``now`` is any monotonic time in seconds."""

    ttl: float
    _sent: dict[RequestKey, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ttl <= 0:
            raise ValueError("ttl must be positive")

    def expire(self, now: float) -> None:
        """Forget the requests sent more than ``ttl`` before ``now``."""
        self._sent = {key: at for key, at in self._sent.items() if now - at < self.ttl}

    def should_send(self, key: RequestKey, now: float) -> bool:
        """True (and remember it as sent at ``now``) unless the same request is pending."""
        at = self._sent.get(key)
        if at is not None and now - at < self.ttl:
            return False
        self._sent[key] = now
        return True

    def forget(self, key: RequestKey) -> None:
        """The request was not sent after all (publishing failed): ask again next time."""
        self._sent.pop(key, None)

    def __len__(self) -> int:
        return len(self._sent)
