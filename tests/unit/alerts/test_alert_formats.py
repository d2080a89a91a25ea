from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from app.alerts.config import WebhookConfig
from app.alerts.event import parse_opportunity
from app.alerts.formats import (
    body,
    build_notification,
    format_money,
    format_percent,
    headline,
    json_payload,
    summary,
)
from app.domain.markets import Market
from app.domain.money import Currency
from tests.unit.alerts.alert_events import opportunity_event

ALERT_ID = "ab" * 32
OPENED_EVENT = opportunity_event()
OPENED = parse_opportunity(OPENED_EVENT)


def hook(fmt: str, **fields: Any) -> WebhookConfig:
    return WebhookConfig.model_validate(
        {"name": f"{fmt}-hook", "url": "https://example.org/hook", "format": fmt, **fields}
    )


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (926, Currency.EUR, "€9.26"),
        (5, Currency.EUR, "€0.05"),
        (0, Currency.EUR, "€0.00"),
        (-719, Currency.EUR, "-€7.19"),
        (123456789, Currency.EUR, "€1,234,567.89"),
        (5000, Currency.GBP, "£50.00"),
    ],
)
def test_money_is_formatted_from_minor_units(minor: int, currency: Currency, text: str) -> None:
    assert format_money(minor, currency) == text


@pytest.mark.parametrize(
    ("ratio", "text"),
    [("0.4226", "42.3 %"), ("0.42249", "42.2 %"), ("0.00049", "0.0 %"), ("1.5", "150.0 %")],
)
def test_percentages_have_one_decimal(ratio: str, text: str) -> None:
    assert format_percent(Decimal(ratio)) == text


def test_summary_has_the_figures_the_product_and_both_markets() -> None:
    assert headline(OPENED) == "New opportunity DE → FR: €8.88 profit, ROI 40.4 %"
    assert summary(OPENED) == (
        "New opportunity DE → FR: €8.88 profit, ROI 40.4 %, margin 21.3 % - "
        "Espresso machine [SYNTHETIC] (B0ALERT001): buy on amazon.de at €20.00, "
        "sell on amazon.fr at €50.00"
    )


def test_gbp_prices_are_shown_in_pounds() -> None:
    gb = parse_opportunity(opportunity_event(sell=Market.GB))
    assert "sell on amazon.co.uk at £50.00" in summary(gb)


def test_json_payload_is_the_event_plus_a_summary() -> None:
    payload = json_payload(hook("json"), OPENED, ALERT_ID)
    assert payload == {
        "alert_id": ALERT_ID,
        "webhook": "json-hook",
        "summary": summary(OPENED),
        "event": OPENED_EVENT,
    }
    orjson.dumps(payload)  # serialisable as is


def test_apprise_message_is_the_headline_and_a_plain_text_body() -> None:
    notification = build_notification(hook("json"), OPENED, ALERT_ID)
    assert notification.title == headline(OPENED)
    assert notification.payload == json_payload(hook("json"), OPENED, ALERT_ID)
    assert notification.body == body(OPENED, ALERT_ID)
    assert notification.body.splitlines() == [
        "Espresso machine [SYNTHETIC] (ASIN B0ALERT001)",
        "Profit €8.88 · ROI 40.4 % · margin 21.3 %",
        "Buy on amazon.de at €20.00: https://www.amazon.de/dp/B0ALERT001",
        "Sell on amazon.fr at €50.00: https://www.amazon.fr/dp/B0ALERT001",
        "First seen 2026-11-20T12:00:00Z · alert abababababab",
    ]


def test_titles_cannot_mention_anyone_and_are_clipped() -> None:
    nasty = "<b>Mug</b> & *bold* @everyone <@1234> @here " + "x" * 500
    o = parse_opportunity(opportunity_event(title=nasty))
    text = body(o, ALERT_ID)
    assert "@everyone" not in text
    assert "<@1234>" not in text
    assert "@here" not in text
    assert "@\u200beveryone" in text
    # Markup is left to Apprise, which escapes it for each service (tests in test_alert_delivery).
    assert text.startswith("<b>Mug</b> & *bold*")
    assert "…" in summary(o)
    assert len(summary(o)) < 400
    assert len(text.splitlines()[0]) < 230


def test_a_missing_title_falls_back_to_the_asin() -> None:
    o = parse_opportunity(opportunity_event(title=None))
    assert "ASIN B0ALERT001 (B0ALERT001)" in summary(o)
