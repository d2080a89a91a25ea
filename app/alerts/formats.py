"""What a notification says: the plain-text message sent through Apprise, the JSON payload of
a plain JSON webhook, and the money/percentage formatting.

* Apprise targets get a title (:func:`headline`) and a plain-text body (:func:`body`): the
  product, the figures, both marketplaces with their links, when it was first seen and the
  alert id. Plain text because Apprise turns it into every service's own markup and escapes
  it on the way (HTML for Telegram and e-mail, ``&lt;``/``&amp;`` for Slack...); markdown
  would reach some services (Slack, Telegram's Markdown) with our escapes showing.
* Plain JSON webhooks get ``{"alert_id", "webhook", "summary", "event"}`` (:func:`json_payload`):
  the event exactly as published on ``arbitrage.opportunities`` plus a one-line summary.

Product titles come from Keepa: they are clipped, and every ``@`` in them is followed by a
zero-width space so that a title cannot mention ``@everyone``/``@here``/``<@id>`` on Discord,
Mattermost or Slack. Money is shown from integer minor units with its currency (``€9.26``,
``£50.00``) and ratios as percentages with one decimal (``42.3 %``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.alerts.config import WebhookConfig
from app.alerts.event import Opportunity
from app.domain.money import format_money
from app.domain.utc import format_utc

__all__ = [
    "Notification",
    "body",
    "build_notification",
    "format_money",
    "format_percent",
    "headline",
    "json_payload",
    "summary",
]

_TITLE_MAX = 200
_ZERO_WIDTH_SPACE = "\u200b"


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification in both shapes: ``title``/``body`` for Apprise, ``payload`` for a
    plain JSON webhook (the sender uses the one its webhook needs)."""

    title: str
    body: str
    payload: dict[str, Any]


def format_percent(ratio: Decimal) -> str:
    """A ratio as a percentage with one decimal, halves up: ``0.4226`` -> ``42.3 %``."""
    percent = (ratio * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{percent} %"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _title(opportunity: Opportunity) -> str:
    title = _clip(opportunity.title or f"ASIN {opportunity.asin}", _TITLE_MAX)
    return title.replace("@", "@" + _ZERO_WIDTH_SPACE)


def _buy(o: Opportunity) -> str:
    return format_money(o.buy_price_minor, o.buy_currency)


def _sell(o: Opportunity) -> str:
    return format_money(o.sell_price_minor, o.sell_currency)


def headline(o: Opportunity) -> str:
    """``New opportunity DE → FR: €9.26 profit, ROI 42.3 %``."""
    return (
        f"New opportunity {o.buy_market} → {o.sell_market}: "
        f"{format_money(o.profit_eur_cents)} profit, ROI {format_percent(o.roi)}"
    )


def summary(o: Opportunity) -> str:
    """One line with the figures, the product and both marketplaces (plain text)."""
    return (
        f"{headline(o)}, margin {format_percent(o.margin)} - {_title(o)} ({o.asin}): "
        f"buy on {o.buy_market.amazon_host} at {_buy(o)}, "
        f"sell on {o.sell_market.amazon_host} at {_sell(o)}"
    )


def body(o: Opportunity, alert_id: str) -> str:
    """The plain-text message under the :func:`headline` title."""
    return "\n".join(
        [
            f"{_title(o)} (ASIN {o.asin})",
            f"Profit {format_money(o.profit_eur_cents)} · ROI {format_percent(o.roi)}"
            f" · margin {format_percent(o.margin)}",
            f"Buy on {o.buy_market.amazon_host} at {_buy(o)}: {o.buy_url}",
            f"Sell on {o.sell_market.amazon_host} at {_sell(o)}: {o.sell_url}",
            f"First seen {format_utc(o.first_seen)} · alert {alert_id[:12]}",
        ]
    )


def json_payload(webhook: WebhookConfig, o: Opportunity, alert_id: str) -> dict[str, Any]:
    """The body POSTed to a plain JSON webhook."""
    return {
        "alert_id": alert_id,
        "webhook": webhook.name,
        "summary": summary(o),
        "event": dict(o.raw),
    }


def build_notification(
    webhook: WebhookConfig, opportunity: Opportunity, alert_id: str
) -> Notification:
    """What to send to ``webhook`` about ``opportunity``."""
    return Notification(
        title=headline(opportunity),
        body=body(opportunity, alert_id),
        payload=json_payload(webhook, opportunity, alert_id),
    )
