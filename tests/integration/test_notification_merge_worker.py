"""Keepa notifications through a worker process on the real broker and Elasticsearch: merged
into the stored quote of their market, opening a route like a product would, once however
often they come, and a fetch requested for a market without a quote.

The tests share one worker but not data: each produces its own ASINs and looks only at them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from app.contracts.dead_letters import DeadLetter
from app.contracts.fetch_requests import FETCH_REQUEST
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.settings import Settings
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import (
    FIXED_TIME_DATA,
    WorkerProcess,
    consume_until,
    envelope_bytes,
    events_of,
    produce,
    started_worker,
)
from tests.keepa_factory import envelope, keepa_notification, keepa_product, notification_message

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOTIFIED = T0 + timedelta(minutes=30)
BUY_BOX = PriceType.BUY_BOX_SHIPPING


def env(asin: str, market: Market, **prices: Any) -> tuple[bytes, bytes]:
    product = keepa_product(asin, market, last_update=T0, weight_g=500, **prices)
    return envelope_bytes(envelope(product, T0 + timedelta(minutes=5)))


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    base = tmp_path_factory.mktemp("notifications")
    with started_worker("notif", base, settings, es, extra_env=FIXED_TIME_DATA) as process:
        yield process


def _of(asins: set[str], records: Any) -> list[dict[str, Any]]:
    return [e for e in events_of(records) if e["asin"] in asins]


def _get(es: Elasticsearch, index: str, doc_id: str) -> dict[str, Any]:
    es.indices.refresh(index=index)
    source: dict[str, Any] = es.get(index=index, id=doc_id)["_source"]
    return source


async def test_a_notification_crossing_into_profit_opens_the_route_once(
    worker: WorkerProcess, kafka_bootstrap: str, es: Elasticsearch
) -> None:
    s = worker.settings
    opens, stays = "B0NOTIF001", "B0NOTIF002"
    # Both DE 20.00 -> FR 30.00: no route pays (tests/integration/test_topology.py: at 50.00
    # DE -> FR makes 888 cents on 2026-11-20; at 30.00 it loses).
    await produce(
        kafka_bootstrap,
        s.topic("keepa.products"),
        [
            env(asin, market, **prices)
            for asin in (opens, stays)
            for market, prices in (
                (Market.DE, {"amazon": 2000}),
                (Market.FR, {"buy_box": 3000, "fba_fee": 300, "referral_pct": 15.0}),
            )
        ],
    )
    await wait_worker_drained(worker, timeout_s=60)
    # The FR buy box of one rises to 50.00 (into profit), of the other to 31.00 (still a
    # loss); the first notification comes twice (Keepa's retry after ~15 s).
    crossing = keepa_notification(opens, Market.FR, {BUY_BOX: 5000}, created_at=NOTIFIED)
    staying = keepa_notification(stays, Market.FR, {BUY_BOX: 3100}, created_at=NOTIFIED)
    await produce(
        kafka_bootstrap,
        s.topic("keepa.notifications"),
        [notification_message(n) for n in (crossing, staying, crossing)],
    )
    records = await consume_until(
        kafka_bootstrap, s.topic("arbitrage.opportunities"), lambda r: bool(_of({opens}, r))
    )
    await wait_worker_drained(worker, timeout_s=60)
    records = await consume_until(
        kafka_bootstrap, s.topic("arbitrage.opportunities"), lambda r: False, timeout_s=3
    )
    events = _of({opens, stays}, records)
    assert [(e["asin"], e["event"], e["route"]) for e in events] == [(opens, "opened", "DE:FR")]
    [opened] = events
    assert opened["profit_eur_cents"] == 888  # the product test's figure at 50.00
    assert opened["sell_observed_at"] == opened["event_time"] == "2026-11-20T12:30:00Z"
    assert opened["quote_sources"] == {
        "buy": {"source": "product", "notification_id": None},
        "sell": {"source": "notification", "notification_id": crossing.notification_id},
    }

    # Elasticsearch: the opportunity with its provenance, the products with theirs.
    doc = _get(es, s.index("opportunities"), f"{opens}:DE:FR")
    assert (doc["state"], doc["profit_eur_cents"]) == ("open", 888)
    assert doc["quote_sources"]["sell"] == {
        "source": "notification",
        "notification_id": crossing.notification_id,
    }
    product = _get(es, s.index("products"), f"{opens}:FR")
    assert (product["source"], product["notification_id"]) == (
        "notification",
        crossing.notification_id,
    )
    assert (product["sell_price_minor"], product["fba_fee_minor"]) == (5000, 300)
    assert product["observed_at"] == "2026-11-20T12:30:00Z"
    assert _get(es, s.index("products"), f"{stays}:FR")["sell_price_minor"] == 3100
    assert "source" not in _get(es, s.index("products"), f"{opens}:DE")
    # One observation per notification however often it came: FR's product and one merge
    # (the price history could not tell: its ids dedupe a replayed observation anyway).
    observed = await consume_until(
        kafka_bootstrap, s.topic("arbitrage.observations"), lambda r: False, timeout_s=3
    )
    fr = [o for o in _of({opens}, observed) if o["market"] == "FR"]
    assert [(o["source"], o["sell_price"]) for o in fr] == [
        ("product", 3000),
        ("notification", 5000),
    ]
    assert worker.counter("notifications_duplicate") == 1


async def test_a_notification_without_a_quote_requests_a_fetch_and_a_bad_one_is_dead_lettered(
    worker: WorkerProcess, kafka_bootstrap: str
) -> None:
    s = worker.settings
    unknown = keepa_notification("B0NOTIF003", Market.IT, {BUY_BOX: 4200}, created_at=NOTIFIED)
    key, value = notification_message(unknown)
    await produce(
        kafka_bootstrap, s.topic("keepa.notifications"), [(key, value), (b"B0NOTIF004", value)]
    )
    records = await consume_until(
        kafka_bootstrap, s.topic("keepa.fetch_requests"), lambda r: any(x.key == key for x in r)
    )
    [record] = [r for r in records if r.key == key]
    request = FETCH_REQUEST.decode(record.value)
    assert (request.asin, request.market, request.reason) == (
        "B0NOTIF003",
        Market.IT,
        "notification_without_quote",
    )
    assert request.notification_id == unknown.notification_id
    dlq = await consume_until(
        kafka_bootstrap,
        s.topic("keepa.notifications.dlq"),
        lambda r: any(x.key == b"B0NOTIF004" for x in r),
    )
    [letter] = [r for r in dlq if r.key == b"B0NOTIF004"]
    assert letter.value == value  # the original bytes
    assert DeadLetter.from_headers(letter.headers).reason == "asin_mismatch"
    assert worker.alive()
