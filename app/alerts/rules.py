"""Which events a webhook is notified of, and the key that makes a notification unique.

A webhook is notified of an ``opened`` event whose profit and ROI reach the webhook's
thresholds (inclusive, like the detector's) on a route its market filter allows. ``updated``
and ``closed`` events never notify.

The dedup key is (webhook, ASIN, route, ``first_seen``): the detector gives every opening of
a route its own ``first_seen`` and keeps it for the route's lifetime, so a redelivered or
replayed ``opened`` event has the same key, while the route opening again later is a new
opportunity with a new key.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from app.alerts.config import WebhookConfig
from app.alerts.event import Opportunity
from app.domain.utc import format_utc

__all__ = ["Verdict", "alert_id", "dedup_key", "verdict"]


class Verdict(StrEnum):
    """Whether a webhook is notified of an event, and if not why."""

    ALERT = "alert"
    NOT_OPENED = "not_opened"
    BELOW_PROFIT = "below_profit"
    BELOW_ROI = "below_roi"
    MARKET_FILTERED = "market_filtered"


def verdict(opportunity: Opportunity, webhook: WebhookConfig) -> Verdict:
    """:attr:`Verdict.ALERT` when ``webhook`` is to be notified of ``opportunity``."""
    if opportunity.event != "opened":
        return Verdict.NOT_OPENED
    markets = webhook.markets
    if markets.buy is not None and opportunity.buy_market not in markets.buy:
        return Verdict.MARKET_FILTERED
    if markets.sell is not None and opportunity.sell_market not in markets.sell:
        return Verdict.MARKET_FILTERED
    if opportunity.profit_eur_cents < webhook.min_profit_eur_cents:
        return Verdict.BELOW_PROFIT
    if opportunity.roi < webhook.min_roi:
        return Verdict.BELOW_ROI
    return Verdict.ALERT


def dedup_key(webhook: str, asin: str, route_key: str, first_seen: datetime) -> str:
    """``webhook|ASIN|BUY:SELL|first_seen`` (first seen as ISO-8601 UTC with ``Z``)."""
    return f"{webhook}|{asin}|{route_key}|{format_utc(first_seen)}"


def alert_id(webhook: str, opportunity: Opportunity) -> str:
    """The notification's id: SHA-256 hex of its :func:`dedup_key` (the alerts index id)."""
    key = dedup_key(webhook, opportunity.asin, opportunity.route_key, opportunity.first_seen)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
