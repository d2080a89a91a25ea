"""A producer already on a newer ``schema_version``, on each topic the worker consumes (a real
worker process with RocksDB, the real broker and Elasticsearch): every such message lands on
its dead-letter topic with the reason, and the worker goes on with what follows.

Delivery is at least once (a rebalance may hand a message out again), so the checks compare
sets and lower bounds, not exact counts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from app.contracts.dead_letters import SINK_DEAD_LETTER, DeadLetter, SinkDeadLetter
from app.contracts.fx_rates import FX_RATE, FxRate
from app.contracts.keepa_products import make_envelope
from app.contracts.opportunities import OPPORTUNITY
from app.domain.markets import Market
from app.ingest.producer import envelope_record
from app.settings import Settings
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import (
    FIXED_TIME_DATA,
    WorkerProcess,
    consume_until,
    produce,
    started_worker,
    wait_for,
)
from tests.keepa_factory import keepa_product

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ASIN = "B0VERSION1"
#: What a newer producer might write: a version this worker does not read, another shape.
NEWER = orjson.dumps({"schema_version": 99, "asin": ASIN, "shape": "from a newer producer"})


@pytest.fixture
def worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    base = tmp_path_factory.mktemp("versions")
    with started_worker("vers", base, settings, es, extra_env=FIXED_TIME_DATA) as process:
        yield process


def _letters(records: list[Any]) -> dict[bytes | None, list[DeadLetter]]:
    """The dead letters of ``records`` by key, read from their headers."""
    found: dict[bytes | None, list[DeadLetter]] = {}
    for record in records:
        found.setdefault(record.key, []).append(DeadLetter.from_headers(record.headers))
    return found


def _sink_letters(records: list[Any]) -> list[SinkDeadLetter]:
    return [SINK_DEAD_LETTER.decode(record.value) for record in records]


def _quote(market: Market, **prices: Any) -> tuple[bytes | None, bytes]:
    product = keepa_product(ASIN, market, last_update=T0, weight_g=500, **prices)
    return envelope_record(make_envelope(market, product, T0 + timedelta(minutes=5)))


async def test_unknown_versions_on_every_input_are_dead_lettered_and_the_worker_goes_on(
    worker: WorkerProcess, kafka_bootstrap: str
) -> None:
    s = worker.settings
    rate = FxRate(eur_per_gbp=Decimal("1.20"), as_of=T0)
    await produce(kafka_bootstrap, s.topic("keepa.products"), [(ASIN.encode(), NEWER)])
    await produce(
        kafka_bootstrap,
        s.topic("fx.rates"),
        [(b"GBP", NEWER), (b"USD", FX_RATE.encode(rate)), (b"GBP", FX_RATE.encode(rate))],
    )
    await produce(kafka_bootstrap, s.topic("arbitrage.observations"), [(ASIN.encode(), NEWER)])
    await produce(kafka_bootstrap, s.topic("arbitrage.opportunities"), [(ASIN.encode(), NEWER)])
    await produce(kafka_bootstrap, s.topic("arbitrage.reevaluations"), [(ASIN.encode(), NEWER)])
    await produce(kafka_bootstrap, s.topic("keepa.notifications"), [(ASIN.encode(), NEWER)])

    # keepa.products.dlq: the original bytes, the reason and where they came from.
    dlq = await consume_until(kafka_bootstrap, s.topic("keepa.products.dlq"), lambda r: len(r) >= 1)
    assert {(r.key, r.value) for r in dlq} == {(ASIN.encode(), NEWER)}
    for letter in _letters(dlq)[ASIN.encode()]:
        assert letter.reason == "unsupported_version"
        assert letter.source_topic == s.topic("keepa.products")
        assert "schema_version 99 is not supported" in letter.error

    # arbitrage.reevaluations.dlq: the same for a request of a newer worker's sweep.
    requests_dlq = await consume_until(
        kafka_bootstrap, s.topic("arbitrage.reevaluations.dlq"), lambda r: len(r) >= 1
    )
    assert {(r.key, r.value) for r in requests_dlq} == {(ASIN.encode(), NEWER)}
    for letter in _letters(requests_dlq)[ASIN.encode()]:
        assert letter.reason == "unsupported_version"
        assert letter.source_topic == s.topic("arbitrage.reevaluations")

    # keepa.notifications.dlq: the same for a notification of a newer webhook receiver.
    notifications_dlq = await consume_until(
        kafka_bootstrap, s.topic("keepa.notifications.dlq"), lambda r: len(r) >= 1
    )
    assert {(r.key, r.value) for r in notifications_dlq} == {(ASIN.encode(), NEWER)}
    for letter in _letters(notifications_dlq)[ASIN.encode()]:
        assert letter.reason == "unsupported_version"
        assert letter.source_topic == s.topic("keepa.notifications")

    # fx.rates.dlq: the newer message, and the rate under a key that is not a currency we use.
    fx_dlq = await consume_until(
        kafka_bootstrap, s.topic("fx.rates.dlq"), lambda r: {x.key for x in r} >= {b"GBP", b"USD"}
    )
    by_key = _letters(fx_dlq)
    assert set(by_key) == {b"GBP", b"USD"}
    assert {x.reason for x in by_key[b"GBP"]} == {"unsupported_version"}
    assert {x.reason for x in by_key[b"USD"]} == {"unsupported_currency"}
    assert {x.source_topic for x in [*by_key[b"GBP"], *by_key[b"USD"]]} == {s.topic("fx.rates")}

    # arbitrage.sink.dlq: the sink could read neither internal message.
    internal = {s.topic("arbitrage.observations"), s.topic("arbitrage.opportunities")}
    sink_dlq = await consume_until(
        kafka_bootstrap,
        s.topic("arbitrage.sink.dlq"),
        lambda r: {x.source_topic for x in _sink_letters(list(r))} >= internal,
    )
    letters = _sink_letters(sink_dlq)
    assert {x.source_topic for x in letters} == internal
    assert {(x.reason, x.message) for x in letters} == {("unsupported_version", NEWER.decode())}

    # The worker goes on: the valid rate after the bad ones is in force, and a route opens
    # with it (GB sold at 1.20: 5000 p = 6000 c).
    await wait_for(lambda: worker.counter("fx_updates") >= 1, 30, "the valid fx rate")
    await produce(
        kafka_bootstrap,
        s.topic("keepa.products"),
        [
            _quote(Market.DE, amazon=2000),
            _quote(Market.GB, buy_box=5000, fba_fee=250, referral_pct=15.0),
        ],
    )
    records = await consume_until(
        kafka_bootstrap,
        s.topic("arbitrage.opportunities"),
        lambda r: any(x.value != NEWER for x in r),
    )
    events = [OPPORTUNITY.decode(r.value) for r in records if r.value != NEWER]
    assert {
        (e.asin, e.event, e.route, e.sell_price_eur_cents, e.fx_eur_per_gbp) for e in events
    } == {(ASIN, "opened", "DE:GB", 6000, Decimal("1.20"))}
    await wait_worker_drained(worker, timeout_s=60)
    assert worker.alive()
    stats = worker.stats() or {}
    reasons = stats["dlq_reasons"]
    assert set(reasons) == {
        "unsupported_version",
        "fx_rejected:unsupported_version",
        "fx_rejected:unsupported_currency",
        "sink_dlq:unsupported_version",
        "reevaluation_rejected:unsupported_version",
        "notification_rejected:unsupported_version",
    }
    assert reasons["sink_dlq:unsupported_version"] >= 2
    assert stats["counters"]["dlq"] >= 1
    assert stats["counters"]["fx_rejected"] >= 2
