"""Delivery of one notification to one webhook: rate limit, POST, retries with backoff.

Every attempt is kept (time, status or error, the wait that followed) for the alerts index.
The webhook URL is a secret: it appears nowhere in logs, errors or results (the webhook's
``label``, its name and host, does).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from app.alerts.config import AlertSettings, WebhookConfig
from app.alerts.ratelimit import TokenBucket
from app.alerts.retry import (
    AttemptOutcome,
    RetryPolicy,
    classify_error,
    classify_status,
    retry_after_from_body,
    retry_after_seconds,
)
from app.domain.utc import format_utc

__all__ = ["Attempt", "DeliveryResult", "WebhookSender", "make_http_client"]

log = logging.getLogger(__name__)

USER_AGENT = "eu-arbitrage-tracker-alerts/1"
_ERROR_MAX = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt: when, what came back, and how long we waited after it."""

    number: int
    at: datetime
    outcome: AttemptOutcome
    http_status: int | None = None
    error: str | None = None
    wait_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "at": format_utc(self.at),
            "outcome": self.outcome.value,
            "http_status": self.http_status,
            "error": self.error,
            "wait_s": self.wait_s,
        }


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The attempts made; ``rate_limited``: stopped because the webhook's rate limit would
    have made the next attempt wait longer than allowed."""

    attempts: tuple[Attempt, ...]
    rate_limited: bool = False

    @property
    def delivered(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].outcome is AttemptOutcome.DELIVERED

    @property
    def http_status(self) -> int | None:
        return self.attempts[-1].http_status if self.attempts else None

    @property
    def error(self) -> str | None:
        if self.rate_limited:
            return "rate limit: the webhook's backlog is longer than ALERT_MAX_RATE_LIMIT_WAIT_S"
        return self.attempts[-1].error if self.attempts else None

    @property
    def sent_at(self) -> datetime | None:
        return self.attempts[-1].at if self.delivered else None


def make_http_client(settings: AlertSettings) -> httpx.AsyncClient:
    """The client used for all webhooks: no redirects (a redirect is a misconfiguration)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.timeout_s),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


class _RedactWebhookUrls(logging.Filter):
    """Masks webhook URLs in the records of a library logger (httpx logs every request URL
    at INFO level). Installed once on the ``httpx`` logger; URLs are added as they are used."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.urls:
            return True
        message = record.getMessage()
        redacted = message
        for url, label in self.urls.items():
            redacted = redacted.replace(url, f"<{label} url>")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_URL_FILTER = _RedactWebhookUrls()
logging.getLogger("httpx").addFilter(_URL_FILTER)


def _redact(text: str, webhook: WebhookConfig) -> str:
    url = webhook.url.get_secret_value()
    for secret in {url, url.split("://", 1)[-1]}:
        if secret:
            text = text.replace(secret, f"<{webhook.label} url>")
    return text[:_ERROR_MAX]


@dataclass
class WebhookSender:
    """Sends payloads; one token bucket per webhook name, shared by every delivery."""

    client: httpx.AsyncClient
    policy: RetryPolicy
    rate_limit_per_minute: float
    max_wait_s: float | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    now: Callable[[], datetime] = _utcnow
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, TokenBucket] = field(default_factory=dict, init=False)

    @classmethod
    def from_settings(cls, client: httpx.AsyncClient, settings: AlertSettings) -> WebhookSender:
        policy = RetryPolicy(settings.max_attempts, settings.backoff_base_s, settings.backoff_max_s)
        return cls(client, policy, settings.rate_limit_per_minute, settings.max_rate_limit_wait_s)

    def _bucket(self, webhook: WebhookConfig) -> TokenBucket:
        bucket = self._buckets.get(webhook.name)
        if bucket is None:
            bucket = TokenBucket(self.rate_limit_per_minute, clock=self.clock)
            self._buckets[webhook.name] = bucket
        return bucket

    async def _post(self, webhook: WebhookConfig, body: bytes) -> httpx.Response:
        return await self.client.post(
            webhook.url.get_secret_value(),
            content=body,
            headers={"Content-Type": "application/json"},
        )

    async def deliver(self, webhook: WebhookConfig, payload: Mapping[str, Any]) -> DeliveryResult:
        """POST ``payload`` until it is delivered, fails for good or attempts run out."""
        url = webhook.url.get_secret_value()
        for form in (url, str(httpx.URL(url))):
            _URL_FILTER.urls.setdefault(form, webhook.label)
        body = orjson.dumps(payload)
        attempts: list[Attempt] = []
        number = 0
        while True:
            number += 1
            wait = self._bucket(webhook).reserve(self.max_wait_s)
            if wait is None:
                log.warning(
                    "alert to %s not sent: over the rate limit for longer than %.0f s",
                    webhook.label,
                    self.max_wait_s,
                )
                return DeliveryResult(tuple(attempts), rate_limited=True)
            if wait > 0:
                log.info("alert to %s: rate limited, waiting %.1f s", webhook.label, wait)
                await self.sleep(wait)
            at = self.now()
            retry_after: float | None = None
            status: int | None = None
            try:
                response = await self._post(webhook, body)
            except Exception as exc:  # transport errors are retried, anything else fails
                outcome = classify_error(exc)
                error: str | None = _redact(f"{type(exc).__name__}: {exc}", webhook)
            else:
                status = response.status_code
                outcome = classify_status(status)
                error = None
                if outcome is not AttemptOutcome.DELIVERED:
                    error = _redact(f"HTTP {status}: {response.text[:200]}", webhook)
                if outcome is AttemptOutcome.RETRY:
                    retry_after = retry_after_seconds(response.headers.get("retry-after"), at)
                    if retry_after is None and status == 429:
                        retry_after = retry_after_from_body(_json_or_none(response))
            delay = (
                self.policy.next_delay(number, retry_after)
                if outcome is AttemptOutcome.RETRY
                else None
            )
            attempts.append(Attempt(number, at, outcome, status, error, delay))
            if outcome is AttemptOutcome.DELIVERED:
                log.info(
                    "alert delivered to %s (attempt %d, HTTP %s)", webhook.label, number, status
                )
                return DeliveryResult(tuple(attempts))
            if delay is None:
                log.warning(
                    "alert to %s failed after %d attempt(s): %s", webhook.label, number, error
                )
                return DeliveryResult(tuple(attempts))
            log.warning(
                "alert to %s: attempt %d/%d failed (%s); retrying in %.1f s",
                webhook.label,
                number,
                self.policy.max_attempts,
                error,
                delay,
            )
            await self.sleep(delay)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
