from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.alerts.config import WebhookConfig
from app.alerts.event import parse_opportunity
from app.alerts.rules import Verdict, alert_id, dedup_key, verdict
from app.domain.markets import Market
from tests.unit.alerts.alert_events import T0, opportunity_event


def hook(**fields: Any) -> WebhookConfig:
    return WebhookConfig.model_validate({"name": "hook", "url": "http://127.0.0.1/x", **fields})


OPENED = parse_opportunity(opportunity_event())  # profit 888, ROI 0.4042 (alert_events.py)


def test_an_opened_event_above_the_thresholds_alerts() -> None:
    assert verdict(OPENED, hook()) is Verdict.ALERT


@pytest.mark.parametrize("event", ["updated", "closed"])
def test_updated_and_closed_events_never_alert(event: str) -> None:
    assert verdict(parse_opportunity(opportunity_event(event)), hook()) is Verdict.NOT_OPENED


def test_thresholds_are_inclusive() -> None:
    assert verdict(OPENED, hook(min_profit_eur_cents=888)) is Verdict.ALERT
    assert verdict(OPENED, hook(min_profit_eur_cents=889)) is Verdict.BELOW_PROFIT
    assert verdict(OPENED, hook(min_roi="0.4042")) is Verdict.ALERT
    assert verdict(OPENED, hook(min_roi="0.4043")) is Verdict.BELOW_ROI


def test_market_filters() -> None:
    assert verdict(OPENED, hook(markets={"buy": ["DE", "IT"]})) is Verdict.ALERT
    assert verdict(OPENED, hook(markets={"sell": ["FR"]})) is Verdict.ALERT
    assert verdict(OPENED, hook(markets={"buy": ["IT"]})) is Verdict.MARKET_FILTERED
    assert verdict(OPENED, hook(markets={"sell": ["GB", "ES"]})) is Verdict.MARKET_FILTERED
    gb = parse_opportunity(opportunity_event(sell=Market.GB))
    assert verdict(gb, hook(markets={"sell": ["UK"]})) is Verdict.ALERT


def test_dedup_key_is_webhook_asin_route_first_seen() -> None:
    assert dedup_key("hook", "B0ALERT001", "DE:FR", T0) == (
        "hook|B0ALERT001|DE:FR|2026-11-20T12:00:00Z"
    )


def test_alert_id_is_stable_for_redeliveries_and_distinct_otherwise() -> None:
    first = alert_id("hook", OPENED)
    assert len(first) == 64
    assert first == alert_id("hook", parse_opportunity(opportunity_event()))
    # The same opening seen later (a replay computes the same first_seen): same id.
    replay = parse_opportunity(opportunity_event(event_time=T0 + timedelta(hours=3)))
    assert alert_id("hook", replay) == first
    # Another webhook, ASIN, route or a later re-opening: a new notification.
    assert alert_id("other", OPENED) != first
    assert alert_id("hook", parse_opportunity(opportunity_event(asin="B0ALERT002"))) != first
    assert alert_id("hook", parse_opportunity(opportunity_event(sell=Market.IT))) != first
    reopened = parse_opportunity(opportunity_event(first_seen=T0 + timedelta(days=1)))
    assert alert_id("hook", reopened) != first
