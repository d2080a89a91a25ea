"""A token bucket per webhook: at most ``rate_per_minute`` requests a minute on average, with
bursts up to ``capacity`` (default: one minute's worth, at least one request).

:meth:`TokenBucket.reserve` books the next token and says how long to wait before using it, so
waiting callers are served in order; with ``max_wait`` it refuses (takes nothing, returns
``None``) when the wait would be longer. The clock is injected (``time.monotonic`` by
default) so the arithmetic is tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """Token bucket; ``rate_per_minute == 0`` means no limit."""

    def __init__(
        self,
        rate_per_minute: float,
        *,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_minute < 0:
            raise ValueError(f"rate_per_minute must be >= 0, got {rate_per_minute}")
        self._rate_per_s = rate_per_minute / 60.0
        self._capacity = max(1.0, rate_per_minute if capacity is None else capacity)
        self._clock = clock
        self._tokens = self._capacity
        self._updated = clock()

    @property
    def unlimited(self) -> bool:
        return self._rate_per_s == 0

    def reserve(self, max_wait: float | None = None) -> float | None:
        """Take one token; return the seconds to wait before the request may be sent, or
        ``None`` (and take nothing) if that would be longer than ``max_wait``."""
        if self.unlimited:
            return 0.0
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate_per_s)
        self._updated = now
        wait = 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self._rate_per_s
        if max_wait is not None and wait > max_wait:
            return None
        self._tokens -= 1.0
        return wait
