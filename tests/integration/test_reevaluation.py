"""Re-evaluation without new Keepa input, on the real broker and Elasticsearch with real
worker processes (RocksDB): a profile change closes and reopens an open opportunity through
the sweep's ``profile_changed`` requests, a bad profile changes nothing, and with a short
``STALE_AFTER_HOURS`` a quote that arrives already stale opens nothing while a fresh pair
opens and is closed ``stale_quote`` by the sweep in wall-clock time.

The tests of the first worker run in order (the second builds on the profile the first left
in force). Delivery is at least once, so counters are checked as lower bounds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.api.main import create_app
from app.contracts.seller_profile import DEFAULT_IN_FORCE, profile_version
from app.domain.markets import Market
from app.domain.profile import DEFAULT_PROFILE, with_overrides
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
    wait_for,
)
from tests.keepa_factory import envelope, keepa_product

pytestmark = pytest.mark.asyncio(loop_scope="session")

TOKEN = "integration-token-for-reevaluation-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ASIN = "B0REEVAL01"
# DE 20.00 -> FR 50.00, FBA 3.00, 15 %, 500 g, on 2026-11-20 with the default profile
# (hand-computed in tests/integration/test_topology.py): net sell 4167 - referral 750 - FBA 300
# - DSF 32 - storage 6 (FR, November: 0.0015 m3 x 3968 = 5.952) - inbound 510 - net buy 1681
# = 888 cents. A minimum profit of 900 makes it none.
PROFIT = 888
STRICT = {"thresholds": {"min_profit_eur_cents": 900}}
STRICT_VERSION = profile_version(
    with_overrides(DEFAULT_PROFILE, {"thresholds.min_profit_eur_cents": "900"})
)
#: The wall-clock test's STALE_AFTER_HOURS: 72 s. Keepa's lastUpdate has minute resolution, so
#: a quote fetched now may be up to 59 s old: 0.01 h (36 s) would make some fresh ones stale.
SHORT_STALE_HOURS = "0.02"
SHORT_STALE = timedelta(seconds=72)
SHORT_SWEEP_S = 2.0


def pair(asin: str, *, de_at: datetime, fr_at: datetime, fetched: datetime) -> list[Any]:
    de = keepa_product(asin, Market.DE, amazon=2000, last_update=de_at, weight_g=500)
    fr = keepa_product(
        asin,
        Market.FR,
        buy_box=5000,
        fba_fee=300,
        referral_pct=15.0,
        last_update=fr_at,
        weight_g=500,
    )
    return [envelope_bytes(envelope(de, fetched)), envelope_bytes(envelope(fr, fetched))]


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    base = tmp_path_factory.mktemp("reeval")
    with started_worker("reeval", base, settings, es, extra_env=FIXED_TIME_DATA) as process:
        yield process


@pytest.fixture(scope="module")
def client(worker: WorkerProcess) -> Iterator[TestClient]:
    """The API with the worker's settings (same topic and index prefixes) and a write token."""
    api_settings = worker.settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


def ours(records: Any, asin: str = ASIN) -> list[dict[str, Any]]:
    return [e for e in events_of(records) if e.get("asin") == asin]


def es_route(es: Elasticsearch, s: Settings, asin: str) -> dict[str, Any]:
    es.indices.refresh(index=s.index("opportunities"))
    found: dict[str, Any] = es.get(index=s.index("opportunities"), id=f"{asin}:DE:FR")["_source"]
    return found


async def events_until(worker: WorkerProcess, count: int, asin: str = ASIN) -> list[Any]:
    records = await consume_until(
        worker.settings.kafka_bootstrap_servers,
        worker.settings.topic("arbitrage.opportunities"),
        lambda r: len(ours(r, asin)) >= count,
        timeout_s=90,
    )
    found = ours(records, asin)
    assert len(found) >= count, f"{found}\n{worker.stats()}\n{worker.tail()}"
    return found


async def test_a_profile_change_closes_and_changing_it_back_reopens_without_new_input(
    worker: WorkerProcess, client: TestClient, es: Elasticsearch
) -> None:
    s = worker.settings
    await produce(
        s.kafka_bootstrap_servers,
        s.topic("keepa.products"),
        pair(ASIN, de_at=T0, fr_at=T0, fetched=T0 + timedelta(minutes=5)),
    )
    [opened] = await events_until(worker, 1)
    assert (opened["event"], opened["route"], opened["profit_eur_cents"]) == (
        "opened",
        "DE:FR",
        PROFIT,
    )
    assert opened["profile_version"] == DEFAULT_IN_FORCE.version
    await wait_worker_drained(worker, timeout_s=60)
    assert es_route(es, s, ASIN)["state"] == "open"

    # A stricter profile: the open route is re-evaluated and closed, with no Keepa input.
    put = client.put("/profile", json={"profile": STRICT, "updated_by": "it"}, headers=AUTH)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == STRICT_VERSION
    events = await events_until(worker, 2)
    closed = events[1]
    assert (closed["event"], closed["reason"], closed["profit_eur_cents"]) == (
        "closed",
        "below_threshold",
        PROFIT,
    )
    assert closed["profile_version"] == STRICT_VERSION
    assert closed["failed_thresholds"] == ["min_profit"]
    assert closed["event_time"] == opened["event_time"]  # the ASIN's event time
    assert closed["event_id"] != opened["event_id"]
    await wait_worker_drained(worker, timeout_s=60)
    doc = es_route(es, s, ASIN)
    assert (doc["state"], doc["reason"], doc["profile_version"]) == (
        "closed",
        "below_threshold",
        STRICT_VERSION,
    )
    detail = client.get(f"/opportunities/{ASIN}").json()
    assert detail["open_routes"] == 0
    assert [(r["route"], r["state"]) for r in detail["routes"]] == [("DE:FR", "closed")]

    # Back to the default profile: opened again, still without any new Keepa input.
    back = client.put("/profile", json={"profile": {}, "updated_by": "it"}, headers=AUTH)
    assert back.status_code == 200, back.text
    assert back.json()["version"] == DEFAULT_IN_FORCE.version
    events = await events_until(worker, 3)
    reopened = events[2]
    assert (reopened["event"], reopened["profit_eur_cents"], reopened["profile_version"]) == (
        "opened",
        PROFIT,
        DEFAULT_IN_FORCE.version,
    )
    await wait_worker_drained(worker, timeout_s=60)
    assert es_route(es, s, ASIN)["state"] == "open"
    detail = client.get(f"/opportunities/{ASIN}").json()
    assert detail["open_routes"] == 1

    inputs = await consume_until(
        s.kafka_bootstrap_servers, s.topic("keepa.products"), lambda r: len(r) > 2, timeout_s=3
    )
    assert len(inputs) == 2  # the two quotes of the start: nothing else came from Keepa
    stats = worker.stats() or {}
    counters = stats["counters"]
    assert counters["reevaluation_requests_sent_profile_changed"] >= 2
    assert counters["reevaluations_profile_changed"] >= 2
    assert stats["seller_profile"]["version"] == DEFAULT_IN_FORCE.version


async def test_a_bad_profile_is_refused_and_changes_nothing(
    worker: WorkerProcess, client: TestClient
) -> None:
    s = worker.settings
    before = await events_until(worker, 3)
    sweeps = worker.counter("sweeps")
    refused = client.put(
        "/profile",
        json={"profile": {"thresholds": {"min_roi": "-0.5"}}},
        headers=AUTH,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == [
        "body",
        "profile",
        "thresholds",
        "min_roi",
    ]
    # Two more sweeps of the worker: nothing was requested, nothing happened.
    await wait_for(lambda: worker.counter("sweeps") >= sweeps + 2, 60, "two more sweeps")
    await wait_worker_drained(worker, timeout_s=60)
    records = await consume_until(
        s.kafka_bootstrap_servers,
        s.topic("arbitrage.opportunities"),
        lambda r: len(ours(r)) > len(before),
        timeout_s=3,
    )
    assert ours(records) == before
    profiles = await consume_until(
        s.kafka_bootstrap_servers, s.topic("seller.profile"), lambda r: len(r) > 2, timeout_s=3
    )
    assert len(profiles) == 2  # the two of the previous test
    assert (worker.stats() or {})["seller_profile"]["version"] == DEFAULT_IN_FORCE.version
    assert client.get("/profile").json()["version"] == DEFAULT_IN_FORCE.version


@pytest.fixture
def short_stale_worker(
    tmp_path: Path, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    short = {"STALE_AFTER_HOURS": SHORT_STALE_HOURS, "SWEEP_INTERVAL_SECONDS": str(SHORT_SWEEP_S)}
    with started_worker("stale", tmp_path, settings, es, extra_env=short) as process:
        yield process


async def test_a_stale_arrival_opens_nothing_and_the_sweep_closes_a_route_gone_stale(
    short_stale_worker: WorkerProcess, es: Elasticsearch
) -> None:
    worker = short_stale_worker
    s = worker.settings
    fetched = datetime.now(UTC).replace(microsecond=0)
    minute = fetched.replace(second=0)  # what Keepa's lastUpdate can say (minute resolution)
    late, fresh = "B0STALEAR1", "B0FRESHPR1"
    # `late`: its FR quote was last updated 5 min before it was fetched (> 72 s): it arrives
    # stale and opens nothing. `fresh`: both quotes at most 59 s old when fetched: opens.
    await produce(
        s.kafka_bootstrap_servers,
        s.topic("keepa.products"),
        [
            *pair(late, de_at=minute, fr_at=minute - timedelta(minutes=5), fetched=fetched),
            *pair(fresh, de_at=minute, fr_at=minute, fetched=fetched),
        ],
    )
    [opened] = await events_until(worker, 1, fresh)
    assert (opened["event"], opened["route"]) == ("opened", "DE:FR")

    # Without new input, the sweep closes it once its quotes are older than 72 s (wall
    # clock): not before, and at most one sweep interval (plus the detector's lag) after.
    records = await consume_until(
        s.kafka_bootstrap_servers,
        s.topic("arbitrage.opportunities"),
        lambda r: len(ours(r, fresh)) >= 2,
        timeout_s=150,
    )
    received = datetime.now(UTC)
    events = ours(records, fresh)
    assert len(events) == 2, f"{events}\n{worker.stats()}\n{worker.tail()}"
    closed = events[1]
    assert (closed["event"], closed["route"], closed["reason"]) == (
        "closed",
        "DE:FR",
        "stale_quote",
    )
    assert closed["event_time"] == opened["event_time"]  # the ASIN's event time
    stale_at = minute + SHORT_STALE
    assert received > stale_at, "closed before its quotes were stale in wall-clock time"
    # The consumer polls every 0.5 s; 15 s is the slack for the detector and the broker on
    # the shared 2-core machine.
    assert received <= stale_at + timedelta(seconds=SHORT_SWEEP_S + 15), (
        f"closed {received - stale_at} after the quotes went stale"
    )

    # A few more sweeps: no request floods in, and `late` never opened anything.
    sweeps = worker.counter("sweeps")
    await wait_for(lambda: worker.counter("sweeps") >= sweeps + 3, 60, "three more sweeps")
    await wait_worker_drained(worker, timeout_s=60)
    every = events_of(
        await consume_until(
            s.kafka_bootstrap_servers,
            s.topic("arbitrage.opportunities"),
            lambda r: False,
            timeout_s=3,
        )
    )
    assert [e for e in every if e["asin"] == late] == []
    assert [e["event"] for e in every if e["asin"] == fresh] == ["opened", "closed"]
    counters = (worker.stats() or {})["counters"]
    assert 1 <= counters["reevaluation_requests_sent_wall_clock"] <= 2
    assert counters["reevaluations_wall_clock"] >= 1
    doc = es_route(es, s, fresh)
    assert (doc["state"], doc["reason"]) == ("closed", "stale_quote")
