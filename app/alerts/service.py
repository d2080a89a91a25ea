"""One opportunity event through the alert pipeline: rules -> dedup -> rate limit -> deliver
-> record, for every configured webhook (concurrently; each webhook has its own rate limit).

Free of Faust: the agent (``agents/alerts.py``) feeds it the events it decoded
(:class:`app.contracts.opportunities.OpportunityMessage`); tests feed it with an in-memory
store and a local HTTP receiver. :meth:`AlertService.handle` never raises for one bad
event or webhook: it reports an :class:`Outcome` per webhook, and logs the problem.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from app.alerts.config import WebhookConfig
from app.alerts.delivery import DeliveryResult
from app.alerts.event import InvalidAlertEventError, Opportunity, parse_opportunity
from app.alerts.formats import Notification, build_notification, summary
from app.alerts.record import alert_document
from app.alerts.rules import Verdict, alert_id, verdict
from app.alerts.store import AlertStore
from app.contracts.opportunities import OpportunityMessage

__all__ = ["AlertService", "Handled", "Outcome"]

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    INVALID = "invalid"  # the event does not follow the contract
    SKIPPED = "skipped"  # not for this webhook (not `opened`, below thresholds, markets)
    DUPLICATE = "duplicate"  # already sent (a redelivery or a replay)
    SENT = "sent"
    FAILED = "failed"  # delivery failed for good (recorded in the alerts index)
    RATE_LIMITED = "rate_limited"  # the webhook's backlog was too long (recorded, not sent)
    ERROR = "error"  # an unexpected error (logged; nothing recorded)


@dataclass(frozen=True, slots=True)
class Handled:
    webhook: str | None
    outcome: Outcome
    detail: str | None = None


class Deliverer(Protocol):
    async def deliver(
        self, webhook: WebhookConfig, notification: Notification
    ) -> DeliveryResult: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AlertService:
    webhooks: Sequence[WebhookConfig]
    sender: Deliverer
    store: AlertStore
    now: Callable[[], datetime] = _utcnow

    async def handle(self, value: Any) -> list[Handled]:
        """Notify every webhook that wants this event (at most once per webhook)."""
        if not self.webhooks:
            return []
        kind = value.event if isinstance(value, OpportunityMessage) else None
        if isinstance(value, Mapping):
            kind = value.get("event")
        if kind in ("updated", "closed"):
            return [Handled(w.name, Outcome.SKIPPED, Verdict.NOT_OPENED) for w in self.webhooks]
        try:
            opportunity = parse_opportunity(value)
        except InvalidAlertEventError as exc:
            log.warning("ignoring an opportunity event that breaks the contract: %s", exc)
            return [Handled(None, Outcome.INVALID, str(exc))]
        handled: list[Handled] = []
        targets: list[WebhookConfig] = []
        for webhook in self.webhooks:
            decision = verdict(opportunity, webhook)
            if decision is Verdict.ALERT:
                targets.append(webhook)
            else:
                handled.append(Handled(webhook.name, Outcome.SKIPPED, decision))
        if targets:
            handled.extend(
                await asyncio.gather(*(self._notify(webhook, opportunity) for webhook in targets))
            )
        return handled

    async def _notify(self, webhook: WebhookConfig, opportunity: Opportunity) -> Handled:
        aid = alert_id(webhook.name, opportunity)
        try:
            if await self.store.already_sent(aid):
                log.info(
                    "alert %s to %s already sent (%s %s)",
                    aid[:12],
                    webhook.label,
                    opportunity.asin,
                    opportunity.route_key,
                )
                return Handled(webhook.name, Outcome.DUPLICATE, aid)
            text = summary(opportunity)
            notification = build_notification(webhook, opportunity, aid)
            result = await self.sender.deliver(webhook, notification)
            document = alert_document(aid, webhook, opportunity, result, text, self.now())
            await self.store.save(aid, document)
        except Exception as exc:  # one webhook's problem must not stop the others or the agent
            log.exception(
                "alert %s to %s (%s %s) not completed",
                aid[:12],
                webhook.label,
                opportunity.asin,
                opportunity.route_key,
            )
            return Handled(webhook.name, Outcome.ERROR, f"{type(exc).__name__}: {exc}"[:500])
        if result.delivered:
            outcome = Outcome.SENT
        else:
            outcome = Outcome.RATE_LIMITED if result.rate_limited else Outcome.FAILED
        return Handled(webhook.name, outcome, aid)
