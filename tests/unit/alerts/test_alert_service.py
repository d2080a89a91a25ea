"""The whole pipeline for one event (rules -> dedup -> deliver -> record) with an in-memory
store and a real HTTP receiver on 127.0.0.1 (plain JSON webhooks and Apprise targets)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.alerts.config import WebhookConfig
from app.alerts.delivery import WebhookSender
from app.alerts.event import parse_opportunity
from app.alerts.retry import RetryPolicy
from app.alerts.rules import Verdict, alert_id
from app.alerts.service import AlertService, Handled, Outcome
from app.alerts.store import AlertStoreError
from tests.unit.alerts.alert_events import opportunity_event
from tests.webhook_receiver import Receiver, Reply, running_receiver

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


class MemoryStore:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.fail_save = False

    async def already_sent(self, alert_id: str) -> bool:
        return self.docs.get(alert_id, {}).get("status") == "sent"

    async def save(self, alert_id: str, document: Mapping[str, Any]) -> None:
        if self.fail_save:
            raise AlertStoreError("mapping rejected")
        self.docs[alert_id] = dict(document)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def hook(receiver: Receiver, name: str, **fields: Any) -> WebhookConfig:
    """A plain JSON webhook at ``/<name>``, or with ``apprise=True`` an Apprise ``json://``
    target at ``/<name>``."""
    url = receiver.url(f"/{name}")
    if fields.pop("apprise", False):
        url = f"json://127.0.0.1:{receiver.port}/{name}"
    return WebhookConfig.model_validate({"name": name, "url": url, **fields})


async def _sleep(seconds: float) -> None:
    return None


@asynccontextmanager
async def service(
    store: MemoryStore, *webhooks: WebhookConfig, rate: float = 0
) -> AsyncIterator[AlertService]:
    async with httpx.AsyncClient() as client:
        sender = WebhookSender(client, RetryPolicy(3, 0.01, 1.0), rate, 60.0, sleep=_sleep)
        yield AlertService(list(webhooks), sender, store, now=lambda: NOW)


def paths(receiver: Receiver) -> list[str]:
    return sorted(r.path for r in receiver.requests)


async def test_one_notification_per_webhook_and_a_record_of_it(receiver: Receiver) -> None:
    store = MemoryStore()
    webhooks = (
        hook(receiver, "generic"),
        hook(receiver, "apprise", apprise=True),
        hook(receiver, "picky", min_profit_eur_cents=1000),
        hook(receiver, "it-only", markets={"sell": ["IT"]}),
    )
    event = opportunity_event()
    async with service(store, *webhooks) as alerts:
        handled = await alerts.handle(event)
    assert sorted(handled, key=lambda h: h.webhook or "") == [
        Handled("apprise", Outcome.SENT, alert_id("apprise", parse_opportunity(event))),
        Handled("generic", Outcome.SENT, alert_id("generic", parse_opportunity(event))),
        Handled("it-only", Outcome.SKIPPED, Verdict.MARKET_FILTERED),
        Handled("picky", Outcome.SKIPPED, Verdict.BELOW_PROFIT),
    ]
    assert paths(receiver) == ["/apprise", "/generic"]
    doc = store.docs[alert_id("generic", parse_opportunity(event))]
    assert doc["status"] == "sent"
    assert doc["attempts"] == 1
    assert doc["http_status"] == 200
    assert doc["webhook"] == "generic"
    assert doc["webhook_host"] == "127.0.0.1"
    assert doc["format"] == "json"
    assert doc["dedup_key"] == "generic|B0ALERT001|DE:FR|2026-11-20T12:00:00Z"
    assert doc["recorded_at"] == "2026-11-25T09:30:00Z"
    assert doc["sent_at"] is not None
    assert doc["profit_eur_cents"] == 888
    assert "url" not in doc
    assert f"{receiver.port}/generic" not in str(doc)
    apprise_doc = store.docs[alert_id("apprise", parse_opportunity(event))]
    assert (apprise_doc["status"], apprise_doc["attempts"]) == ("sent", 1)
    assert (apprise_doc["format"], apprise_doc["webhook_host"]) == ("apprise", "json")
    assert apprise_doc["http_status"] is None  # Apprise names a status only when it fails


async def test_a_redelivered_or_replayed_opened_event_does_not_notify_again(
    receiver: Receiver,
) -> None:
    store = MemoryStore()
    event = opportunity_event()
    async with service(
        store, hook(receiver, "generic"), hook(receiver, "ap", apprise=True)
    ) as alerts:
        assert [h.outcome for h in await alerts.handle(event)] == [Outcome.SENT] * 2
        assert [h.outcome for h in await alerts.handle(event)] == [Outcome.DUPLICATE] * 2
        assert [h.outcome for h in await alerts.handle(dict(event))] == [Outcome.DUPLICATE] * 2
    assert paths(receiver) == ["/ap", "/generic"]


async def test_updates_closes_and_below_threshold_never_notify(receiver: Receiver) -> None:
    store = MemoryStore()
    async with service(store, hook(receiver, "generic", min_profit_eur_cents=1000)) as alerts:
        for event in (
            opportunity_event("updated", sell_price=6000),
            opportunity_event("closed"),
            opportunity_event("opened"),  # 888 < 1000
        ):
            assert all(h.outcome is Outcome.SKIPPED for h in await alerts.handle(event))
    assert receiver.requests == []
    assert store.docs == {}


@pytest.mark.parametrize("apprise", [False, True])
async def test_a_failed_delivery_is_recorded_and_retried_on_the_next_delivery(
    receiver: Receiver, apprise: bool
) -> None:
    store = MemoryStore()
    receiver.script["/generic"] = [Reply(500)] * 3
    event = opportunity_event()
    async with service(store, hook(receiver, "generic", apprise=apprise)) as alerts:
        assert [h.outcome for h in await alerts.handle(event)] == [Outcome.FAILED]
        (doc,) = store.docs.values()
        assert (doc["status"], doc["attempts"], doc["http_status"]) == ("failed", 3, 500)
        assert doc["sent_at"] is None
        assert [a["outcome"] for a in doc["attempt_log"]] == ["retry", "retry", "retry"]
        assert doc["error"]
        # A failed notification is not a sent one: a redelivery tries again.
        assert [h.outcome for h in await alerts.handle(event)] == [Outcome.SENT]
    (doc,) = store.docs.values()
    assert (doc["status"], doc["attempts"]) == ("sent", 1)
    assert len(receiver.to("/generic")) == 4


async def test_retries_then_delivered_records_the_attempts(receiver: Receiver) -> None:
    store = MemoryStore()
    receiver.script["/generic"] = [Reply(500)]
    receiver.script["/ap"] = [Reply(503)]
    webhooks = hook(receiver, "generic"), hook(receiver, "ap", apprise=True)
    async with service(store, *webhooks) as alerts:
        outcomes = [h.outcome for h in await alerts.handle(opportunity_event())]
    assert outcomes == [Outcome.SENT, Outcome.SENT]
    event = parse_opportunity(opportunity_event())
    doc = store.docs[alert_id("generic", event)]
    assert (doc["status"], doc["attempts"], doc["http_status"]) == ("sent", 2, 200)
    assert [(a["outcome"], a["http_status"]) for a in doc["attempt_log"]] == [
        ("retry", 500),
        ("delivered", 200),
    ]
    doc = store.docs[alert_id("ap", event)]
    assert [(a["outcome"], a["http_status"]) for a in doc["attempt_log"]] == [
        ("retry", 503),
        ("delivered", None),
    ]


async def test_bad_events_and_store_errors_are_reported_not_raised(receiver: Receiver) -> None:
    store = MemoryStore()
    async with service(store, hook(receiver, "generic")) as alerts:
        (invalid,) = await alerts.handle({"event": "opened", "asin": "nope"})
        assert invalid.outcome is Outcome.INVALID
        assert (await alerts.handle(b"garbage"))[0].outcome is Outcome.INVALID
        store.fail_save = True
        (error,) = await alerts.handle(opportunity_event())
    assert error.outcome is Outcome.ERROR
    assert error.detail == "AlertStoreError: mapping rejected"


async def test_without_webhooks_nothing_happens(receiver: Receiver) -> None:
    async with service(MemoryStore()) as alerts:
        assert await alerts.handle(opportunity_event()) == []
    assert receiver.requests == []


async def test_a_rate_limited_notification_is_recorded_and_sent_on_a_later_delivery(
    receiver: Receiver,
) -> None:
    store = MemoryStore()
    first, second = opportunity_event(), opportunity_event(asin="B0ALERT002")
    # One per 2 minutes.
    async with service(store, hook(receiver, "generic", apprise=True), rate=0.5) as alerts:
        assert [h.outcome for h in await alerts.handle(first)] == [Outcome.SENT]
        assert [h.outcome for h in await alerts.handle(second)] == [Outcome.RATE_LIMITED]
        assert len(receiver.requests) == 1
        doc = store.docs[alert_id("generic", parse_opportunity(second))]
        assert (doc["status"], doc["attempts"], doc["http_status"]) == ("rate_limited", 0, None)
        assert doc["attempt_log"] == []
        # Not sent, so not a duplicate: a redelivery tries again (here: still rate limited).
        assert [h.outcome for h in await alerts.handle(second)] == [Outcome.RATE_LIMITED]
