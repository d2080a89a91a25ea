from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.alerts.event import InvalidAlertEventError, parse_opportunity
from app.domain.markets import Market
from app.domain.money import Currency
from tests.unit.alerts.alert_events import T0, opportunity_event
from tests.unit.contracts.version1_message import V1_MESSAGE


def test_a_real_event_is_parsed() -> None:
    event = opportunity_event()
    o = parse_opportunity(event)
    assert (o.event, o.asin, o.route_key) == ("opened", "B0ALERT001", "DE:FR")
    assert (o.buy_market, o.sell_market) == (Market.DE, Market.FR)
    assert (o.buy_currency, o.sell_currency) == (Currency.EUR, Currency.EUR)
    assert (o.buy_price_minor, o.sell_price_minor, o.profit_eur_cents) == (2000, 5000, 888)
    # 888 / 2197 = 0.40419 -> 0.4042; 888 / 4167 = 0.21310 -> 0.2131 (see alert_events.py)
    assert o.roi == Decimal("0.4042")
    assert o.margin == Decimal("0.2131")
    assert o.first_seen == o.event_time == T0
    assert o.buy_url == "https://www.amazon.de/dp/B0ALERT001"
    assert o.sell_url == "https://www.amazon.fr/dp/B0ALERT001"
    assert o.raw == event


def test_links_are_built_from_the_asin_not_taken_from_the_event() -> None:
    event = {**opportunity_event(), "sell_url": "https://evil.example/phish"}
    assert parse_opportunity(event).sell_url == "https://www.amazon.fr/dp/B0ALERT001"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event": "reopened"}, "reopened"),
        ({"asin": "b0alert001"}, "asin"),
        ({"buy_market": "US"}, "US"),
        ({"route": "DE:IT"}, "route 'DE:IT' is not DE:FR"),
        ({"schema_version": 4}, "unsupported_version"),
        ({"profit_eur_cents": 9.26}, "profit_eur_cents"),
        ({"profit_eur_cents": True}, "profit_eur_cents"),
        ({"roi": "lots"}, "roi"),
        ({"roi": None}, "roi"),
        ({"first_seen": "2026-11-20T12:00:00"}, "first_seen"),
        ({"event_time": None}, "event_time"),
        ({"title": 42}, "title"),
        ({"buy_currency": "USD"}, "USD"),
    ],
)
def test_events_breaking_the_contract_are_rejected(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidAlertEventError, match=message):
        parse_opportunity({**opportunity_event(), **change})


@pytest.mark.parametrize("value", [None, [1, 2], "opened", b"{}"])
def test_non_objects_are_rejected(value: object) -> None:
    with pytest.raises(InvalidAlertEventError):
        parse_opportunity(value)


def test_a_version_1_event_still_on_the_topic_is_parsed() -> None:
    # 4000 - 720 - 425 - 510 - 1681 = 664 (tests/unit/contracts/version1_message.py)
    o = parse_opportunity(V1_MESSAGE)
    assert (o.event, o.route_key, o.profit_eur_cents) == ("opened", "DE:FR", 664)
    assert (o.roi, o.margin) == (Decimal("0.3031"), Decimal("0.166"))
    assert o.first_seen == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
