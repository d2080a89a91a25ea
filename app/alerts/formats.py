"""Notification payloads, one per webhook format, and the money/percentage formatting.

* ``json``: ``{"alert_id", "webhook", "summary", "event"}`` - the event exactly as published
  on ``arbitrage.opportunities`` plus a one-line human summary;
* ``slack`` (incoming webhook): ``{"text": <fallback>, "blocks": [...]}`` in Block Kit;
* ``discord`` (webhook): ``{"content": ..., "embeds": [...], "allowed_mentions": ...}``;
* ``telegram`` (Bot API ``sendMessage``): ``{"chat_id", "text", "parse_mode": "HTML"}``.

Product titles come from Keepa, so they are escaped for every markup (Slack mrkdwn, Discord
markdown, Telegram HTML), clipped to the services' length limits, and Discord mentions are
disabled. Money is shown from integer minor units with its currency (``€9.26``, ``£50.00``)
and ratios as percentages with one decimal (``42.3 %``).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.alerts.config import WebhookConfig, WebhookFormat
from app.alerts.event import Opportunity
from app.domain.money import Currency
from app.domain.utc import format_utc

__all__ = [
    "build_payload",
    "format_money",
    "format_percent",
    "headline",
    "summary",
]

_SYMBOLS = {Currency.EUR: "€", Currency.GBP: "£"}
_TITLE_MAX = 200
#: Discord embed colour (green).
_COLOUR = 0x2E7D32


def format_money(minor: int, currency: Currency = Currency.EUR) -> str:
    """Integer minor units as money: ``926`` -> ``€9.26``, ``-123456`` -> ``-€1,234.56``."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    return f"{sign}{_SYMBOLS[currency]}{units:,}.{cents:02d}"


def format_percent(ratio: Decimal) -> str:
    """A ratio as a percentage with one decimal, halves up: ``0.4226`` -> ``42.3 %``."""
    percent = (ratio * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{percent} %"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _title(opportunity: Opportunity) -> str:
    return _clip(opportunity.title or f"ASIN {opportunity.asin}", _TITLE_MAX)


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


# --- generic JSON -------------------------------------------------------------------------


def _json(webhook: WebhookConfig, o: Opportunity, alert_id: str) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "webhook": webhook.name,
        "summary": summary(o),
        "event": dict(o.raw),
    }


# --- Slack --------------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack(webhook: WebhookConfig, o: Opportunity, alert_id: str) -> dict[str, Any]:
    title = _slack_escape(_title(o))
    fields = [
        ("Profit", format_money(o.profit_eur_cents)),
        ("ROI", format_percent(o.roi)),
        ("Margin", format_percent(o.margin)),
        ("Route", f"{o.buy_market} → {o.sell_market}"),
        (f"Buy on {o.buy_market.amazon_host}", _buy(o)),
        (f"Sell on {o.sell_market.amazon_host}", _sell(o)),
    ]
    return {
        "text": _slack_escape(summary(o)),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _clip(headline(o), 150), "emoji": False},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*<{o.sell_url}|{title}>*\nASIN `{o.asin}`"},
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields
                ],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {
                            "type": "plain_text",
                            "text": f"Buy on {o.buy_market.amazon_host}",
                        },
                        "url": o.buy_url,
                    },
                    {
                        "type": "button",
                        "text": {
                            "type": "plain_text",
                            "text": f"Sell on {o.sell_market.amazon_host}",
                        },
                        "url": o.sell_url,
                    },
                ],
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"First seen {format_utc(o.first_seen)} · alert {alert_id[:12]}",
                    }
                ],
            },
        ],
    }


# --- Discord ------------------------------------------------------------------------------

_DISCORD_SPECIAL = frozenset("\\*_~`|[]()<>#-@")


def _discord_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in _DISCORD_SPECIAL else c for c in text)


def _discord(webhook: WebhookConfig, o: Opportunity, alert_id: str) -> dict[str, Any]:
    title = _discord_escape(_title(o))
    return {
        "content": _clip(f"**{_discord_escape(headline(o))}**\n{title}", 2000),
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": _clip(_title(o), 256),
                "url": o.sell_url,
                "color": _COLOUR,
                "description": (
                    f"Buy on [{o.buy_market.amazon_host}]({o.buy_url}) at {_buy(o)}\n"
                    f"Sell on [{o.sell_market.amazon_host}]({o.sell_url}) at {_sell(o)}"
                ),
                "fields": [
                    {"name": "Profit", "value": format_money(o.profit_eur_cents), "inline": True},
                    {"name": "ROI", "value": format_percent(o.roi), "inline": True},
                    {"name": "Margin", "value": format_percent(o.margin), "inline": True},
                    {"name": "Route", "value": f"{o.buy_market} → {o.sell_market}", "inline": True},
                    {"name": "ASIN", "value": o.asin, "inline": True},
                ],
                "footer": {"text": f"alert {alert_id[:12]}"},
                "timestamp": format_utc(o.first_seen),
            }
        ],
    }


# --- Telegram -----------------------------------------------------------------------------


def _telegram(webhook: WebhookConfig, o: Opportunity, alert_id: str) -> dict[str, Any]:
    esc = html.escape
    text = "\n".join(
        [
            f"<b>{esc(headline(o))}</b>",
            f'<a href="{esc(o.sell_url)}">{esc(_title(o))}</a>',
            f"ASIN <code>{o.asin}</code>",
            f"Profit <b>{format_money(o.profit_eur_cents)}</b> · ROI {format_percent(o.roi)}"
            f" · margin {format_percent(o.margin)}",
            f'Buy on <a href="{esc(o.buy_url)}">{o.buy_market.amazon_host}</a> at {_buy(o)}',
            f'Sell on <a href="{esc(o.sell_url)}">{o.sell_market.amazon_host}</a> at {_sell(o)}',
        ]
    )
    return {
        "chat_id": webhook.chat_id,
        "text": text,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }


_BUILDERS: dict[WebhookFormat, Callable[[WebhookConfig, Opportunity, str], dict[str, Any]]] = {
    WebhookFormat.JSON: _json,
    WebhookFormat.SLACK: _slack,
    WebhookFormat.DISCORD: _discord,
    WebhookFormat.TELEGRAM: _telegram,
}


def build_payload(
    webhook: WebhookConfig, opportunity: Opportunity, alert_id: str
) -> dict[str, Any]:
    """The JSON body to POST to ``webhook`` for ``opportunity``."""
    return _BUILDERS[webhook.format](webhook, opportunity, alert_id)
