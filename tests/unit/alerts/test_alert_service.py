"""The whole pipeline for one event (rules -> dedup -> deliver -> record) with an in-memory
store and an in-process HTTP transport."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from app.alerts.config import WebhookConfig
from app.alerts.delivery import WebhookSender
from app.alerts.event import parse_opportunity
from app.alerts.retry import RetryPolicy
from app.alerts.rules import Verdict, alert_id
from app.alerts.service import AlertService, Handled, Outcome
from app.alerts.store import AlertStoreError
from tests.unit.alerts.alert_events import opportunity_event

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


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.fail: dict[str, int] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append((path, orjson.loads(request.content)))
        if self.fail.get(path, 0) > 0:
            self.fail[path] -= 1
            return httpx.Response(500)
        return httpx.Response(200, text="ok")

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def hook(name: str, **fields: Any) -> WebhookConfig:
    return WebhookConfig.model_validate(
        {"name": name, "url": f"http://127.0.0.1:9/{name}", **fields}
    )


async def _sleep(seconds: float) -> None:
    return None


def service(
    receiver: Receiver, store: MemoryStore, *webhooks: WebhookConfig, rate: float = 0
) -> AlertService:
    client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    sender = WebhookSender(client, RetryPolicy(3, 0.01, 1.0), rate, 60.0, sleep=_sleep)
    return AlertService(list(webhooks), sender, store, now=lambda: NOW)


async def test_one_notification_per_webhook_and_a_record_of_it() -> None:
    receiver, store = Receiver(), MemoryStore()
    alerts = service(
        receiver,
        store,
        hook("generic"),
        hook("slack", format="slack"),
        hook("picky", min_profit_eur_cents=1000),
        hook("it-only", markets={"sell": ["IT"]}),
    )
    event = opportunity_event()
    handled = await alerts.handle(event)
    assert sorted(handled, key=lambda h: h.webhook or "") == [
        Handled("generic", Outcome.SENT, alert_id("generic", parse_opportunity(event))),
        Handled("it-only", Outcome.SKIPPED, Verdict.MARKET_FILTERED),
        Handled("picky", Outcome.SKIPPED, Verdict.BELOW_PROFIT),
        Handled("slack", Outcome.SENT, alert_id("slack", parse_opportunity(event))),
    ]
    assert sorted(receiver.paths()) == ["/generic", "/slack"]
    doc = store.docs[alert_id("generic", parse_opportunity(event))]
    assert doc["status"] == "sent"
    assert doc["attempts"] == 1
    assert doc["http_status"] == 200
    assert doc["webhook"] == "generic"
    assert doc["webhook_host"] == "127.0.0.1"
    assert doc["dedup_key"] == "generic|B0ALERT001|DE:FR|2026-11-20T12:00:00Z"
    assert doc["recorded_at"] == "2026-11-25T09:30:00Z"
    assert doc["sent_at"] is not None
    assert doc["profit_eur_cents"] == 926
    assert "url" not in doc
    assert "127.0.0.1:9/generic" not in str(doc)


async def test_a_redelivered_or_replayed_opened_event_does_not_notify_again() -> None:
    receiver, store = Receiver(), MemoryStore()
    alerts = service(receiver, store, hook("generic"))
    event = opportunity_event()
    assert [h.outcome for h in await alerts.handle(event)] == [Outcome.SENT]
    assert [h.outcome for h in await alerts.handle(event)] == [Outcome.DUPLICATE]
    assert [h.outcome for h in await alerts.handle(dict(event))] == [Outcome.DUPLICATE]
    assert len(receiver.requests) == 1


async def test_updates_closes_and_below_threshold_never_notify() -> None:
    receiver, store = Receiver(), MemoryStore()
    alerts = service(receiver, store, hook("generic", min_profit_eur_cents=1000))
    for event in (
        opportunity_event("updated", sell_price=6000),
        opportunity_event("closed"),
        opportunity_event("opened"),  # 926 < 1000
    ):
        assert all(h.outcome is Outcome.SKIPPED for h in await alerts.handle(event))
    assert receiver.requests == []
    assert store.docs == {}


async def test_a_failed_delivery_is_recorded_and_retried_on_the_next_delivery() -> None:
    receiver, store = Receiver(), MemoryStore()
    receiver.fail["/generic"] = 3
    alerts = service(receiver, store, hook("generic"))
    event = opportunity_event()
    assert [h.outcome for h in await alerts.handle(event)] == [Outcome.FAILED]
    (doc,) = store.docs.values()
    assert (doc["status"], doc["attempts"], doc["http_status"]) == ("failed", 3, 500)
    assert doc["sent_at"] is None
    assert [a["outcome"] for a in doc["attempt_log"]] == ["retry", "retry", "retry"]
    # A failed notification is not a sent one: a redelivery tries again.
    assert [h.outcome for h in await alerts.handle(event)] == [Outcome.SENT]
    (doc,) = store.docs.values()
    assert (doc["status"], doc["attempts"]) == ("sent", 1)


async def test_retries_then_delivered_records_the_attempts() -> None:
    receiver, store = Receiver(), MemoryStore()
    receiver.fail["/generic"] = 1
    alerts = service(receiver, store, hook("generic"))
    assert [h.outcome for h in await alerts.handle(opportunity_event())] == [Outcome.SENT]
    (doc,) = store.docs.values()
    assert (doc["status"], doc["attempts"], doc["http_status"]) == ("sent", 2, 200)
    assert [(a["outcome"], a["http_status"]) for a in doc["attempt_log"]] == [
        ("retry", 500),
        ("delivered", 200),
    ]


async def test_bad_events_and_store_errors_are_reported_not_raised() -> None:
    receiver, store = Receiver(), MemoryStore()
    alerts = service(receiver, store, hook("generic"))
    (invalid,) = await alerts.handle({"event": "opened", "asin": "nope"})
    assert invalid.outcome is Outcome.INVALID
    assert (await alerts.handle(b"garbage"))[0].outcome is Outcome.INVALID
    store.fail_save = True
    (error,) = await alerts.handle(opportunity_event())
    assert error.outcome is Outcome.ERROR
    assert error.detail == "AlertStoreError: mapping rejected"


async def test_without_webhooks_nothing_happens() -> None:
    receiver, store = Receiver(), MemoryStore()
    assert await service(receiver, store).handle(opportunity_event()) == []
    assert receiver.requests == []


async def test_a_rate_limited_notification_is_recorded_and_sent_on_a_later_delivery() -> None:
    receiver, store = Receiver(), MemoryStore()
    alerts = service(receiver, store, hook("generic"), rate=0.5)  # one per 2 minutes
    first, second = opportunity_event(), opportunity_event(asin="B0ALERT002")
    assert [h.outcome for h in await alerts.handle(first)] == [Outcome.SENT]
    assert [h.outcome for h in await alerts.handle(second)] == [Outcome.RATE_LIMITED]
    assert len(receiver.requests) == 1
    doc = store.docs[alert_id("generic", parse_opportunity(second))]
    assert (doc["status"], doc["attempts"], doc["http_status"]) == ("rate_limited", 0, None)
    assert doc["attempt_log"] == []
    # Not sent, so not a duplicate: a redelivery tries again (here: still rate limited).
    assert [h.outcome for h in await alerts.handle(second)] == [Outcome.RATE_LIMITED]
