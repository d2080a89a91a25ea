"""Delivery of one notification to one webhook: rate limit, send, retries with backoff.

A webhook is sent to through Apprise (one :class:`apprise.Apprise` object per webhook, so
every result is that webhook's) or, for a plain JSON webhook, by a JSON POST with httpx (see
:mod:`app.alerts.targets`). Apprise's plugins are blocking (``requests``):
``Apprise.async_notify`` runs them in Apprise's worker threads, so the Faust event loop never
waits on a webhook. The rate limit, the retries and their backoff are ours for both kinds.

Every attempt is kept (time, status or error, the wait that followed) for the alerts index.
The webhook URL is a secret: it appears nowhere in logs, errors or results (the webhook's
``label``, its name and host, does); the log records of httpx, urllib3 and Apprise are
redacted too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import apprise
import httpx
import orjson
from apprise import NotifyFormat, NotifyType

from app.alerts.config import AlertSettings, WebhookConfig
from app.alerts.formats import Notification
from app.alerts.ratelimit import TokenBucket
from app.alerts.retry import (
    AttemptOutcome,
    RetryPolicy,
    apprise_status,
    classify_apprise_failure,
    classify_error,
    classify_status,
    retry_after_from_body,
    retry_after_seconds,
)
from app.alerts.targets import load_notifier, secret_fragments
from app.domain.utc import format_utc

__all__ = ["Attempt", "DeliveryResult", "WebhookSender", "make_http_client"]

log = logging.getLogger(__name__)

USER_AGENT = "eu-arbitrage-tracker-alerts/1"
_ERROR_MAX = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt: when, what came back, and how long we waited after it. ``http_status``
    is always known for a plain JSON webhook; for an Apprise target only when Apprise
    reported a failed request with its status."""

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


@dataclass(frozen=True, slots=True)
class _Reply:
    """What one attempt came back with."""

    outcome: AttemptOutcome
    http_status: int | None = None
    error: str | None = None
    retry_after: float | None = None


def make_http_client(settings: AlertSettings) -> httpx.AsyncClient:
    """The client used for all webhooks: no redirects (a redirect is a misconfiguration)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.timeout_s),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


class _Redactor:
    """Replaces secrets by ``<label url>`` in one pass (longest first, so that a replacement
    is never replaced again)."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        ordered = sorted(secrets, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda m: f"<{self.secrets[m.group(0)]} url>", text)


class _RedactWebhookUrls(logging.Filter):
    """Masks webhook URLs and their secret parts in the records of library loggers (httpx
    logs every request URL at INFO level; urllib3 and Apprise log URLs at DEBUG level).
    Installed once on those loggers; webhooks are added as they are used."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: dict[str, str] = {}
        self._added: set[WebhookConfig] = set()
        self._redact = _Redactor({})

    def add(self, webhook: WebhookConfig) -> None:
        if webhook in self._added:
            return
        self._added.add(webhook)
        for fragment in _fragments(webhook):
            self._secrets.setdefault(fragment, webhook.label)
        self._redact = _Redactor(dict(self._secrets))

    def filter(self, record: logging.LogRecord) -> bool:
        if self._redact.pattern is None:
            return True
        message = record.getMessage()
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_URL_FILTER = _RedactWebhookUrls()
for _logger in ("httpx", "urllib3.connectionpool", apprise.LOGGER_NAME):
    logging.getLogger(_logger).addFilter(_URL_FILTER)


def _fragments(webhook: WebhookConfig) -> tuple[str, ...]:
    url = webhook.url.get_secret_value()
    forms = {*secret_fragments(url)}
    target = webhook.apprise_url
    if target is None:
        with contextlib.suppress(httpx.InvalidURL):
            forms.add(str(httpx.URL(url)))
    else:
        forms.update(secret_fragments(target.get_secret_value()))
    return tuple(forms)


def _redact(text: str, webhook: WebhookConfig) -> str:
    return _Redactor(dict.fromkeys(_fragments(webhook), webhook.label))(text)[:_ERROR_MAX]


@dataclass
class WebhookSender:
    """Sends notifications; one token bucket (and, for an Apprise target, one Apprise
    object) per webhook name, shared by every delivery. ``load_notifier`` builds the Apprise
    object of an Apprise URL (tests point a service's plugin at a local server with it)."""

    client: httpx.AsyncClient
    policy: RetryPolicy
    rate_limit_per_minute: float
    max_wait_s: float | None = None
    timeout_s: float = 10.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    now: Callable[[], datetime] = _utcnow
    clock: Callable[[], float] = time.monotonic
    load_notifier: Callable[[str, float], apprise.Apprise] = load_notifier
    _buckets: dict[str, TokenBucket] = field(default_factory=dict, init=False)
    _notifiers: dict[str, apprise.Apprise] = field(default_factory=dict, init=False)

    @classmethod
    def from_settings(cls, client: httpx.AsyncClient, settings: AlertSettings) -> WebhookSender:
        policy = RetryPolicy(settings.max_attempts, settings.backoff_base_s, settings.backoff_max_s)
        return cls(
            client,
            policy,
            settings.rate_limit_per_minute,
            settings.max_rate_limit_wait_s,
            settings.timeout_s,
        )

    def _bucket(self, webhook: WebhookConfig) -> TokenBucket:
        bucket = self._buckets.get(webhook.name)
        if bucket is None:
            bucket = TokenBucket(self.rate_limit_per_minute, clock=self.clock)
            self._buckets[webhook.name] = bucket
        return bucket

    async def _post_json(self, webhook: WebhookConfig, body: bytes, at: datetime) -> _Reply:
        try:
            response = await self.client.post(
                webhook.url.get_secret_value(),
                content=body,
                headers={"Content-Type": "application/json"},
            )
        except Exception as exc:  # transport errors are retried, anything else fails
            return _Reply(
                classify_error(exc), None, _redact(f"{type(exc).__name__}: {exc}", webhook)
            )
        status = response.status_code
        outcome = classify_status(status)
        if outcome is AttemptOutcome.DELIVERED:
            return _Reply(outcome, status)
        retry_after: float | None = None
        if outcome is AttemptOutcome.RETRY:
            retry_after = retry_after_seconds(response.headers.get("retry-after"), at)
            if retry_after is None and status == 429:
                retry_after = retry_after_from_body(_json_or_none(response))
        error = _redact(f"HTTP {status}: {response.text[:200]}", webhook)
        return _Reply(outcome, status, error, retry_after)

    async def _notify(self, webhook: WebhookConfig, url: str, notification: Notification) -> _Reply:
        try:
            notifier = self._notifiers.get(webhook.name)
            if notifier is None:
                notifier = self.load_notifier(url, self.timeout_s)
                self._notifiers[webhook.name] = notifier
            result = await notifier.async_notify(
                body=notification.body,
                title=notification.title,
                body_format=NotifyFormat.TEXT,
                notify_type=NotifyType.SUCCESS,
            )
        except Exception as exc:  # Apprise reports failures in its result; this is a bug
            return _Reply(
                AttemptOutcome.FAIL, None, _redact(f"{type(exc).__name__}: {exc}", webhook)
            )
        if result:
            return _Reply(AttemptOutcome.DELIVERED)
        # One service per Apprise object: its last attempt (Apprise does not retry: retry=0).
        messages = [
            entry.message
            for service in result.results
            for attempt in service.attempts[-1:]
            for entry in attempt.logs
        ]
        messages += [entry.message for entry in result.call_logs()]
        status = apprise_status(messages)
        report = " ".join(messages) or f"Apprise result {result.status.name}"
        error = _redact(f"{webhook.service}: {report}", webhook)
        return _Reply(classify_apprise_failure(status), status, error)

    async def deliver(self, webhook: WebhookConfig, notification: Notification) -> DeliveryResult:
        """Send ``notification`` until it is delivered, fails for good or attempts run out."""
        _URL_FILTER.add(webhook)
        target = webhook.apprise_url
        body = orjson.dumps(notification.payload) if target is None else b""
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
            if target is None:
                reply = await self._post_json(webhook, body, at)
            else:
                reply = await self._notify(webhook, target.get_secret_value(), notification)
            delay = (
                self.policy.next_delay(number, reply.retry_after)
                if reply.outcome is AttemptOutcome.RETRY
                else None
            )
            attempts.append(
                Attempt(number, at, reply.outcome, reply.http_status, reply.error, delay)
            )
            if reply.outcome is AttemptOutcome.DELIVERED:
                if target is None:
                    log.info(
                        "alert delivered to %s (attempt %d, HTTP %s)",
                        webhook.label,
                        number,
                        reply.http_status,
                    )
                else:
                    log.info(
                        "alert delivered to %s through Apprise %s (attempt %d)",
                        webhook.label,
                        webhook.service,
                        number,
                    )
                return DeliveryResult(tuple(attempts))
            if delay is None:
                log.warning(
                    "alert to %s failed after %d attempt(s): %s", webhook.label, number, reply.error
                )
                return DeliveryResult(tuple(attempts))
            log.warning(
                "alert to %s: attempt %d/%d failed (%s); retrying in %.1f s",
                webhook.label,
                number,
                self.policy.max_attempts,
                reply.error,
                delay,
            )
            await self.sleep(delay)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
