"""Crash and outage behaviour of a real worker process on the real broker and Elasticsearch."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from app.domain.markets import Market
from app.settings import Settings
from devtools.stack import StackManager
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import (
    FIXED_TIME_DATA,
    WorkerProcess,
    consume_until,
    envelope_bytes,
    events_of,
    produce,
    wait_for,
)
from tests.keepa_factory import envelope, keepa_product
from tests.session_resources import Owned, delete_owned, resource_name

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def asins(prefix: str, n: int) -> list[str]:
    assert len(prefix) == 3  # B0 + 3 + 5 digits = a 10-character ASIN
    return [f"B0{prefix}{i:05d}" for i in range(n)]


def buy_de(asin: str) -> tuple[bytes, bytes]:
    product = keepa_product(asin, Market.DE, amazon=2000, last_update=T0)
    return envelope_bytes(envelope(product, T0 + timedelta(minutes=1)))


def sell_fr(asin: str, minutes: int = 10) -> tuple[bytes, bytes]:
    at = T0 + timedelta(minutes=minutes)
    product = keepa_product(
        asin, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=at
    )
    return envelope_bytes(envelope(product, at + timedelta(minutes=1)))


def count(es: Elasticsearch, index: str, **query: object) -> int:
    if not es.indices.exists(index=index):
        return 0
    es.indices.refresh(index=index)
    result: int = es.count(index=index, query=query or {"match_all": {}})["count"]
    return result


@pytest.fixture
async def worker(
    tmp_path: Path, settings: Settings, stack: StackManager, es: Elasticsearch
) -> AsyncIterator[WorkerProcess]:
    process = WorkerProcess(
        resource_name("ft"),
        tmp_path / "data",
        tmp_path / "w.log",
        settings,
        extra_env=FIXED_TIME_DATA,
    )
    yield process
    process.stop()
    await delete_owned(settings.kafka_bootstrap_servers, es, Owned.of(process.settings))


def rocksdb_files(data_dir: Path) -> list[Path]:
    """The RocksDB databases of the worker's tables (``CURRENT`` marks one)."""
    return sorted(data_dir.rglob("CURRENT"))


async def test_kill_9_recovers_table_state_from_the_changelog(
    worker: WorkerProcess, kafka_bootstrap: str, es: Elasticsearch
) -> None:
    s = worker.settings
    topic = s.topic("keepa.products")
    before, after = asins("KLA", 20), asins("KLB", 20)
    everything = before + after
    worker.start()
    # Every ASIN's DE (buy) quote, then the FR (sell) quotes of the first half; crash mid-way.
    await produce(kafka_bootstrap, topic, [buy_de(a) for a in everything])
    await wait_for(lambda: worker.counter("keepa_events") >= len(everything), 60, "DE quotes")
    await produce(kafka_bootstrap, topic, [sell_fr(a) for a in before])
    await wait_for(lambda: worker.counter("keepa_events") >= len(everything) + 5, 60, "a few FR")
    assert rocksdb_files(worker.data_dir), "the worker kept no RocksDB state on disk"
    worker.kill9()
    # A new machine: no local table state at all, only what the changelog holds.
    shutil.rmtree(worker.data_dir)
    worker.start()
    # Only the FR half arrives after the restart: each must meet its DE quote from before.
    await produce(kafka_bootstrap, topic, [sell_fr(a) for a in after])

    def opened(records: list[object]) -> set[str]:
        return {e["asin"] for e in events_of(records) if e["event"] == "opened"}  # type: ignore[arg-type]

    records = await consume_until(
        kafka_bootstrap,
        s.topic("arbitrage.opportunities"),
        lambda r: opened(list(r)) >= set(everything),
        timeout_s=120,
    )
    assert opened(list(records)) == set(everything), "an opportunity was lost"
    # default profile on 2026-11-21: 4167 - 750 - 300 - 32 (DSF 3 %) - 6 (storage, FR,
    # November: 0.0015 m3 x 3968 = 5.952) - 510 - 1681 = 888
    # (the arithmetic is in tests/integration/test_topology.py)
    assert all(e["profit_eur_cents"] == 888 for e in events_of(records))

    await wait_for(
        lambda: count(es, s.index("opportunities")) >= len(everything), 60, "opportunity docs"
    )
    await wait_for(
        lambda: count(es, s.index("price-history")) >= 2 * len(everything), 60, "history docs"
    )
    # Everything redelivered after the crash processed and indexed too...
    await wait_worker_drained(worker)
    # ...and exactly one document per route and per observation: no duplicates.
    assert count(es, s.index("opportunities")) == len(everything)
    assert count(es, s.index("opportunities"), term={"state": "open"}) == len(everything)
    assert count(es, s.index("price-history")) == 2 * len(everything)
    assert count(es, s.index("products")) == 2 * len(everything)


async def test_elasticsearch_down_for_30_s_loses_nothing(
    worker: WorkerProcess, kafka_bootstrap: str, es: Elasticsearch, stack: StackManager
) -> None:
    s = worker.settings
    topic = s.topic("keepa.products")
    items = asins("ESO", 30)
    worker.start()
    await produce(kafka_bootstrap, topic, [buy_de(a) for a in items[:5]])
    await wait_for(lambda: count(es, s.index("price-history")) >= 5, 60, "first documents")

    assert stack.down(["elasticsearch"]) == ["elasticsearch"]
    try:
        outage_end = time.monotonic() + 30
        for asin in items:  # events keep flowing during the outage
            await produce(kafka_bootstrap, topic, [buy_de(asin), sell_fr(asin)])
            await asyncio.sleep(0.5)
        await wait_for(lambda: worker.counter("keepa_events") >= 5 + 2 * len(items), 60, "events")
        assert worker.alive()
        await asyncio.sleep(max(0.0, outage_end - time.monotonic()))
    finally:
        stack.up()

    await wait_for(
        lambda: count(es, s.index("opportunities")) >= len(items), 120, "opportunity docs"
    )
    await wait_for(
        lambda: count(es, s.index("price-history")) >= 2 * len(items), 120, "history docs"
    )
    await wait_worker_drained(worker)  # anything retried or redelivered has landed too
    assert count(es, s.index("opportunities")) == len(items)
    assert count(es, s.index("price-history")) == 2 * len(items)  # the 5 early ones deduped
    assert worker.counter("es_retries") > 0
    assert worker.alive()


async def test_fx_rate_from_the_topic_is_used_for_gbp_routes(
    worker: WorkerProcess, kafka_bootstrap: str
) -> None:
    s = worker.settings
    worker.start()
    rate = {
        "currency": "GBP",
        "eur_per_gbp": "1.20",
        "as_of": "2026-11-20T16:00:00Z",
        "source": "ecb",
    }
    await produce(kafka_bootstrap, s.topic("fx.rates"), [(b"GBP", orjson.dumps(rate))])
    await wait_for(lambda: worker.counter("fx_updates") >= 1, 30, "fx update")
    asin = "B0FXRATE01"
    gb = keepa_product(
        asin, Market.GB, buy_box=5000, fba_fee=250, referral_pct=15.0, last_update=T0
    )
    await produce(
        kafka_bootstrap,
        s.topic("keepa.products"),
        [buy_de(asin), envelope_bytes(envelope(gb, T0 + timedelta(minutes=1)))],
    )
    records = await consume_until(
        kafka_bootstrap, s.topic("arbitrage.opportunities"), lambda r: len(r) >= 1
    )
    event = events_of(records)[0]
    # Default profile, fees in pence then each line converted at 1.20: 5000 p = 6000 c;
    # net sell 5000 / 1.2 = 4166.67 -> 4167 p = 5000.4 -> 5000 c; referral 750 p = 900 c;
    # FBA 250 p = 300 c; DSF (DE-established, UK store, 2 %) 15 + 5 = 20 p = 24 c;
    # storage (GB, November) 0.052972 ft3 x 100 p = 5.297 -> 5 p = 6 c;
    # inbound 510 + GB customs 500; net buy 1681
    # -> profit 5000 - 900 - 300 - 24 - 6 - 510 - 500 - 1681 = 1079
    assert event["sell_price_eur_cents"] == 6000
    assert Decimal(event["fx_eur_per_gbp"]) == Decimal("1.20")
    assert event["profit_eur_cents"] == 1079
