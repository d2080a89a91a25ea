"""The alerts index document of one notification (pure; see :mod:`app.alerts.index`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from app.alerts.config import WebhookConfig
from app.alerts.delivery import DeliveryResult
from app.alerts.event import Opportunity
from app.alerts.rules import dedup_key
from app.domain.utc import format_utc

__all__ = ["Status", "alert_document"]

Status = Literal["sent", "failed", "rate_limited"]


def alert_document(
    alert_id: str,
    webhook: WebhookConfig,
    opportunity: Opportunity,
    result: DeliveryResult,
    summary: str,
    recorded_at: datetime,
) -> dict[str, Any]:
    """What was sent where, and how every attempt went (no URL: it may hold a secret)."""
    status: Status = "sent" if result.delivered else "failed"
    if result.rate_limited:
        status = "rate_limited"
    sent_at = result.sent_at
    return {
        "alert_id": alert_id,
        "dedup_key": dedup_key(
            webhook.name, opportunity.asin, opportunity.route_key, opportunity.first_seen
        ),
        "webhook": webhook.name,
        "webhook_host": webhook.host,
        "format": webhook.format.value,
        "status": status,
        "attempts": len(result.attempts),
        "http_status": result.http_status,
        "error": result.error,
        "sent_at": format_utc(sent_at) if sent_at is not None else None,
        "last_attempt_at": format_utc(result.attempts[-1].at) if result.attempts else None,
        "recorded_at": format_utc(recorded_at),
        "attempt_log": [attempt.to_dict() for attempt in result.attempts],
        "event_id": opportunity.event_id,
        "event_time": format_utc(opportunity.event_time),
        "first_seen": format_utc(opportunity.first_seen),
        "asin": opportunity.asin,
        "title": opportunity.title,
        "route": opportunity.route_key,
        "buy_market": opportunity.buy_market.value,
        "sell_market": opportunity.sell_market.value,
        "profit_eur_cents": opportunity.profit_eur_cents,
        "roi": float(opportunity.roi),
        "margin": float(opportunity.margin),
        "summary": summary,
    }
