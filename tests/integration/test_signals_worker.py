"""The sell market's quality signals through a worker process on the real broker and
Elasticsearch, and the REST API on its documents: hand-made Keepa products with statistics
open routes whose event, document and API item carry the signals and the expected monthly
profit; the API's signal filters and sort; a notification redoes the spike flag.

Every route is DE 20.00 (Amazon) -> FR 50.00 (buy box), Keepa FBA 3.00 and referral 15 % on
2026-11-20: 888 cents of profit (tests/integration/test_topology.py, worked out line by line
in tests/unit/api/test_api_converters.py). Only the FR statistics differ:

* SPIKE: avg90 40.00, 4 new offers, 45 rank drops in 30 days. 5000 > 4000 x 1.20 = 4800: a
  spike. 45 / (4 + 1) = 9 units a month, 9 x 888 = 7992 cents.
* STEADY: avg90 49.00, 1 new offer, 10 rank drops. 5000 <= 4900 x 1.20 = 5880: no spike.
  10 / (1 + 1) = 5 units, 5 x 888 = 4440 cents.
* BLANK: no average, no offer count, no rank drops: every signal unknown, no expected profit.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.es.indices import CONTRACT_VERSION
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
BB = PriceType.BUY_BOX_SHIPPING
SPIKE, STEADY, BLANK = "B0SIGNAL01", "B0SIGNAL02", "B0SIGNAL03"
FR_STATS: dict[str, dict[str, Any]] = {
    SPIKE: {"avg90": {BB: 4000}, "new_offers": 4, "rank_drops": (45, 130)},
    STEADY: {"avg90": {BB: 4900}, "new_offers": 1, "rank_drops": (10, 30)},
    BLANK: {},
}


def _env(asin: str, market: Market, **fields: Any) -> tuple[bytes, bytes]:
    product = keepa_product(asin, market, last_update=T0, weight_g=500, **fields)
    return envelope_bytes(envelope(product, T0 + timedelta(minutes=5)))


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    base = tmp_path_factory.mktemp("signals")
    with started_worker("signals", base, settings, es, extra_env=FIXED_TIME_DATA) as process:
        yield process


def _events(records: Any) -> dict[str, list[dict[str, Any]]]:
    by_asin: dict[str, list[dict[str, Any]]] = {}
    for event in events_of(records):
        by_asin.setdefault(event["asin"], []).append(event)
    return by_asin


def _items(client: TestClient, **params: Any) -> list[tuple[str, int | None]]:
    response = client.get("/opportunities", params=params)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    # (only this test's routes: the other test's route shares the worker)
    return [
        (i["asin"], i["expected_monthly_profit_eur_cents"]) for i in items if i["asin"] in FR_STATS
    ]


async def test_signals_travel_to_the_event_the_document_and_the_api(
    worker: WorkerProcess, kafka_bootstrap: str, es: Elasticsearch
) -> None:
    s = worker.settings
    messages = [
        message
        for asin, fr in FR_STATS.items()
        for message in (
            _env(asin, Market.DE, amazon=2000),
            _env(asin, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, **fr),
        )
    ]
    await produce(kafka_bootstrap, s.topic("keepa.products"), messages)
    records = await consume_until(
        kafka_bootstrap,
        s.topic("arbitrage.opportunities"),
        lambda r: set(FR_STATS) <= set(_events(r)),
    )
    await wait_worker_drained(worker, timeout_s=60)
    events = _events(records)
    assert {asin: [e["event"] for e in events[asin]] for asin in FR_STATS} == {
        SPIKE: ["opened"],
        STEADY: ["opened"],
        BLANK: ["opened"],
    }
    spike, steady, blank = (events[asin][0] for asin in (SPIKE, STEADY, BLANK))
    assert {e["profit_eur_cents"] for e in (spike, steady, blank)} == {888}

    # The event: version 3, the FR (sell) market's signals.
    assert spike["schema_version"] == 3
    signals = spike["sell_signals"]
    assert signals["market"] == "FR"
    assert signals["stability"] == {
        "price_type": int(BB),
        "current": 5000,
        "avg30": None,
        "avg90": 4000,
        "low_90": None,
        "high_90": None,
        "spike": True,
    }
    assert signals["demand"]["estimated_monthly_sales"] == 45
    assert signals["demand"]["estimate_method"] == "sales_rank_drops_30"
    assert signals["competition"]["new_offer_count"] == 4
    assert (spike["expected_monthly_units"], spike["expected_monthly_profit_eur_cents"]) == (
        "9.00",
        7992,
    )
    assert steady["sell_signals"]["stability"]["spike"] is False
    assert (steady["expected_monthly_units"], steady["expected_monthly_profit_eur_cents"]) == (
        "5.00",
        4440,
    )
    assert blank["sell_signals"]["stability"]["spike"] is None
    assert blank["sell_signals"]["demand"]["estimated_monthly_sales"] is None
    assert blank["sell_signals"]["competition"]["new_offer_count"] is None
    assert (blank["expected_monthly_units"], blank["expected_monthly_profit_eur_cents"]) == (
        None,
        None,
    )

    # The Elasticsearch document (through the real mapping).
    index = s.index("opportunities")
    es.indices.refresh(index=index)
    doc = es.get(index=index, id=f"{SPIKE}:DE:FR")["_source"]
    assert doc["sell_signals"]["stability"]["spike"] is True
    assert doc["sell_signals"]["competition"]["new_offer_count"] == 4
    assert (doc["expected_monthly_units"], doc["expected_monthly_profit_eur_cents"]) == (
        9.0,
        7992,
    )
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    # the mapping in force is the project's (the signals came with contract 4)
    assert mapping["_meta"]["contract_version"] == CONTRACT_VERSION >= 4
    assert "sell_signals" in mapping["properties"]
    # the fields are searchable: a term query on the spike flag finds the one route
    hits = es.search(index=index, query={"term": {"sell_signals.stability.spike": True}})
    assert [h["_source"]["asin"] for h in hits["hits"]["hits"]] == [SPIKE]

    # The API: items, filters and sort.
    with TestClient(create_app(s)) as client:
        response = client.get(f"/opportunities/{SPIKE}")
        assert response.status_code == 200, response.text
        [route] = response.json()["routes"]
        assert route["sell_signals"]["stability"]["spike"] is True
        assert route["sell_signals"]["demand"]["estimated_monthly_sales"] == 45
        assert (route["expected_monthly_units"], route["expected_monthly_profit_eur_cents"]) == (
            9.0,
            7992,
        )
        ranked = [(SPIKE, 7992), (STEADY, 4440), (BLANK, None)]
        assert _items(client, sort="expected_monthly_profit") == ranked
        # ascending: the known ones up, the unknown one still last
        assert _items(client, sort="expected_monthly_profit", order="asc") == [
            (STEADY, 4440),
            (SPIKE, 7992),
            (BLANK, None),
        ]
        # the spike is left out, the unknown flag kept
        assert _items(client, sort="expected_monthly_profit", exclude_spikes="true") == [
            (STEADY, 4440),
            (BLANK, None),
        ]
        # unknown sales are left out; 10 >= 10 stays, 10 < 11 goes
        assert _items(client, sort="expected_monthly_profit", min_monthly_sales=10) == ranked[:2]
        assert _items(client, min_monthly_sales=11) == [(SPIKE, 7992)]
        # unknown offer counts are left out
        assert _items(client, max_offers=1) == [(STEADY, 4440)]
        assert _items(client, sort="expected_monthly_profit", max_offers=4) == ranked[:2]


async def test_a_notification_redoes_the_spike_flag_on_the_next_event(
    worker: WorkerProcess, kafka_bootstrap: str, es: Elasticsearch
) -> None:
    """A notification raises STEADY's FR buy box to 60.00: the profit moves (an ``updated``
    event), and its signals say spike (6000 > 4900 x 1.20 = 5880) with the stored 90-day
    average, the rank drops and offer count the last product gave."""
    s = worker.settings
    asin = "B0SIGNAL04"
    await produce(
        kafka_bootstrap,
        s.topic("keepa.products"),
        [
            _env(asin, Market.DE, amazon=2000),
            _env(asin, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, **FR_STATS[STEADY]),
        ],
    )
    await consume_until(
        kafka_bootstrap, s.topic("arbitrage.opportunities"), lambda r: asin in _events(r)
    )
    await wait_worker_drained(worker, timeout_s=60)
    notification = keepa_notification(
        asin, Market.FR, {BB: 6000}, created_at=T0 + timedelta(minutes=30)
    )
    await produce(
        kafka_bootstrap, s.topic("keepa.notifications"), [notification_message(notification)]
    )
    records = await consume_until(
        kafka_bootstrap,
        s.topic("arbitrage.opportunities"),
        lambda r: len(_events(r).get(asin, [])) == 2,
    )
    opened, updated = _events(records)[asin]
    assert (opened["event"], updated["event"]) == ("opened", "updated")
    assert opened["sell_signals"]["stability"]["spike"] is False
    stability = updated["sell_signals"]["stability"]
    assert (stability["current"], stability["avg90"], stability["spike"]) == (6000, 4900, True)
    assert updated["sell_signals"]["competition"]["new_offer_count"] == 1
    # 10 rank drops / (1 offer + 1) = 5 units of the new profit
    assert updated["expected_monthly_profit_eur_cents"] == 5 * updated["profit_eur_cents"]
    await wait_worker_drained(worker, timeout_s=60)
    index = s.index("opportunities")
    es.indices.refresh(index=index)
    doc = es.get(index=index, id=f"{asin}:DE:FR")["_source"]
    assert (doc["last_event"], doc["sell_signals"]["stability"]["spike"]) == ("updated", True)
