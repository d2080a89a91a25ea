"""Retry policy of webhook deliveries (pure: the delivery loop in :mod:`app.alerts.delivery`
asks it what an outcome means and how long to wait).

* 2xx: delivered (plain JSON webhooks; an Apprise target is delivered when Apprise says so).
* 408, 429 and 5xx, connection errors and timeouts: transient, retried with exponential
  backoff (``backoff_base_s * 2 ** (attempt - 1)``, at most ``backoff_max_s``) up to
  ``max_attempts`` attempts in all. A ``Retry-After`` (seconds or HTTP date; or Discord's and
  Telegram's ``retry_after`` in the JSON body) replaces the backoff; one longer than
  ``backoff_max_s`` gives up at once rather than retrying too early.
* Any other status (4xx, 3xx: a wrong URL, a revoked token, a bad payload) and any other
  error: failed for good, no retry.
* Apprise only answers success or failure; its report of a failed attempt (the log lines it
  captured) names the HTTP status as ``error=<status>`` when the service answered. With a
  status the rules above apply (a 2xx Apprise still calls a failure, e.g. Slack answering
  200 without ``ok``, fails for good); without one (connection error, timeout, a plugin
  that raised) the attempt is retried. Apprise does not pass ``Retry-After`` on, so Apprise
  targets back off exponentially (its Discord plugin waits for Discord's rate limit itself).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

import httpx

from app.domain.utc import require_utc

__all__ = [
    "AttemptOutcome",
    "RetryPolicy",
    "apprise_status",
    "classify_apprise_failure",
    "classify_error",
    "classify_status",
    "retry_after_from_body",
    "retry_after_seconds",
]


class AttemptOutcome(StrEnum):
    """What one HTTP attempt means for the delivery."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAIL = "fail"


def classify_status(status: int) -> AttemptOutcome:
    """What an HTTP status means for the delivery."""
    if 200 <= status < 300:
        return AttemptOutcome.DELIVERED
    if status in (408, 429) or 500 <= status < 600:
        return AttemptOutcome.RETRY
    return AttemptOutcome.FAIL


def classify_error(error: BaseException) -> AttemptOutcome:
    """Connection errors and timeouts are transient; anything else is not."""
    if isinstance(error, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return AttemptOutcome.RETRY
    return AttemptOutcome.FAIL


_APPRISE_STATUS = re.compile(r"\berror=(\d{3})\b")


def apprise_status(messages: Iterable[str]) -> int | None:
    """The HTTP status in Apprise's report of a failed attempt (its last ``error=<status>``)."""
    status: int | None = None
    for message in messages:
        for match in _APPRISE_STATUS.finditer(message):
            status = int(match.group(1))
    return status


def classify_apprise_failure(status: int | None) -> AttemptOutcome:
    """What an attempt Apprise reported as failed means: see the module docstring."""
    if status is None:
        return AttemptOutcome.RETRY
    outcome = classify_status(status)
    return AttemptOutcome.FAIL if outcome is AttemptOutcome.DELIVERED else outcome


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header (delta seconds or an HTTP date) in seconds from ``now``."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - require_utc(now, "now")).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def retry_after_from_body(body: Any) -> float | None:
    """``retry_after`` of a JSON error body: Discord's top-level one (seconds, float) or
    Telegram's ``parameters.retry_after`` (seconds, int)."""
    if not isinstance(body, Mapping):
        return None
    candidates = [body.get("retry_after")]
    parameters = body.get("parameters")
    if isinstance(parameters, Mapping):
        candidates.append(parameters.get("retry_after"))
    for value in candidates:
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value) and value >= 0:
            return float(value)
    return None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ValueError("backoff delays must be >= 0")

    def backoff(self, attempt: int) -> float:
        """Delay after the ``attempt``-th failed attempt (1-based), without Retry-After."""
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, got {attempt}")
        exponent = min(attempt - 1, 62)
        return float(min(self.backoff_max_s, self.backoff_base_s * 2**exponent))

    def next_delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` after a transient failure, or
        ``None`` to give up (attempts exhausted, or a Retry-After beyond the maximum)."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.backoff_max_s else None
        return self.backoff(attempt)
