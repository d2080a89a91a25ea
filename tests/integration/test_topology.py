"""The topology end to end on the real broker and Elasticsearch, with a worker process started
as a user would: Keepa envelopes in, opportunity events out, documents in Elasticsearch.

The tests share one worker but not data: each produces its own ASINs and looks only at them,
so they pass in any order and alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch

from app.contracts.dead_letters import DeadLetter
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
from tests.keepa_factory import envelope, keepa_product

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FETCHED = T0 + timedelta(minutes=5)

# Hand-computed with the default seller profile (no profile published on this run's topic:
# established in DE, VAT-registered everywhere, stock in every market), on 2026-11-20.
# B0INTEG001, DE -> FR, both EUR:
#   net sell   5000 / 1.20            = 4166.67 -> 4167
#   referral   15 % x 5000            =  750
#   FBA        fbaFees.pickAndPackFee =  300
#   DSF        DE-established in the FR store from 2026-03-20: 3 % x 750 = 22.5 -> 23,
#              3 % x 300 = 9                                            ->   32
#   storage    1 month, FR warehouse, November (October-December): 200 x 150 x 50 mm
#              = 0.0015 m3 x 3968 c/m3 = 5.952 -> 6
#   VAT on fees: reverse-charged (registered in FR), shown only
#   inbound    450 + 12 x 5 (500 g)   =  510
#   net buy    2000 / 1.19            = 1680.67 -> 1681 (VAT recovered: Amazon's offer)
#   profit     4167 - 750 - 300 - 32 - 6 - 510 - 1681 = 888 cents;
#   ROI 888 / (1681 + 510 + 6) = 888 / 2197 = 0.40419 -> 0.4042
# B0INTEG002, DE -> GB, fees in pence then converted at 1.17 EUR/GBP, each line once:
#   net sell 5000 / 1.20 = 4166.67 -> 4167 p = 4875.39 -> 4875 c
#   referral 15 % x 5000 p = 750 p = 877.5 -> 878 c; FBA 250 p = 292.5 -> 293 c
#   DSF (DE-established, UK store: 2 %) 15 p + 5 p = 20 p = 23.4 -> 23 c
#   storage 1 month, GB warehouse, November: 1 500 000 mm3 / 28 316 846.592 mm3 per ft3
#     = 0.052972 ft3 x 100 p = 5.297 -> 5 p = 5.85 -> 6 c
#   inbound 510; GB customs brokerage 500; import duty 0 %; net buy 1681
#   profit     4875 - 878 - 293 - 23 - 6 - 510 - 500 - 1681 = 984 cents
# B0INTEG003, DE 3000 -> IT 3900: +30 % gross, but after VAT and fees:
#   3900 / 1.22 = 3196.72 -> 3197; referral 585; FBA 300; DSF (IT: 3 % of the selling fees
#   only) 17.55 -> 18; storage (IT warehouse, November) 0.0015 m3 x 3852 = 5.778 -> 6;
#   inbound 510; net buy 3000 / 1.19 = 2521
#   profit     3197 - 585 - 300 - 18 - 6 - 510 - 2521 = -743 cents: no opportunity
A, B, C = "B0INTEG001", "B0INTEG002", "B0INTEG003"


def env(asin: str, market: Market, at: datetime = T0, **prices: Any) -> tuple[bytes, bytes]:
    product = keepa_product(asin, market, last_update=at, weight_g=500, **prices)
    return envelope_bytes(envelope(product, at + timedelta(minutes=5)))


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    base = tmp_path_factory.mktemp("topology")
    with started_worker("topo", base, settings, es, extra_env=FIXED_TIME_DATA) as process:
        yield process


def _opportunity_docs(es: Elasticsearch, s: Settings, asins: set[str]) -> dict[str, dict[str, Any]]:
    if not es.indices.exists(index=s.index("opportunities")):
        return {}
    es.indices.refresh(index=s.index("opportunities"))
    query = {"terms": {"asin": sorted(asins)}}
    hits = es.search(index=s.index("opportunities"), query=query, size=100)["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def _of(asins: set[str], records: Any) -> list[dict[str, Any]]:
    """The events of ``records`` about ``asins`` (other tests' events share the topic)."""
    return [e for e in events_of(records) if e["asin"] in asins]


async def test_opened_updated_closed_with_exact_profit(
    worker: WorkerProcess, kafka_bootstrap: str, es: Elasticsearch
) -> None:
    s = worker.settings
    await produce(
        kafka_bootstrap,
        s.topic("keepa.products"),
        [
            env(A, Market.DE, amazon=2000),
            env(A, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0),
            env(B, Market.DE, amazon=2000),
            env(B, Market.GB, buy_box=5000, fba_fee=250, referral_pct=15.0),
            env(C, Market.DE, amazon=3000),
            env(C, Market.IT, buy_box=3900, fba_fee=300, referral_pct=15.0),
        ],
    )
    ours = {A, B, C}
    records = await consume_until(
        kafka_bootstrap, s.topic("arbitrage.opportunities"), lambda r: len(_of(ours, r)) >= 2
    )
    events = {(e["asin"], e["route"]): e for e in _of(ours, records)}
    assert set(events) == {(A, "DE:FR"), (B, "DE:GB")}
    a, b = events[(A, "DE:FR")], events[(B, "DE:GB")]
    assert a["event"] == "opened"
    assert a["schema_version"] == 3
    assert a["profit_eur_cents"] == 888
    assert a["breakdown"]["net_sell_eur_cents"] == 4167
    assert a["breakdown"]["net_buy_eur_cents"] == 1681
    assert [(x["kind"], x["eur_cents"]) for x in a["breakdown"]["lines"] if x["is_cost"]] == [
        ("referral", 750),
        ("fba", 300),
        ("storage", 6),
        ("digital_services_fee", 32),
        ("inbound_shipping", 510),
    ]
    assert a["roi"] == "0.4042"
    assert a["category"] == "default"
    assert a["failed_thresholds"] == []
    assert a["buy_observed_at"] == a["sell_observed_at"] == "2026-11-20T12:00:00Z"
    assert {r.key for r in records if r.key in (A.encode(), B.encode())} == {
        A.encode(),
        B.encode(),
    }  # keyed by ASIN
    assert b["event"] == "opened"
    assert b["sell_price_eur_cents"] == 5850
    assert b["profit_eur_cents"] == 984
    assert [(x["kind"], x["currency"], x["amount_minor"], x["eur_cents"])
            for x in b["breakdown"]["lines"] if x["is_cost"]] == [
        ("referral", "GBP", 750, 878),
        ("fba", "GBP", 250, 293),
        ("storage", "GBP", 5, 6),
        ("digital_services_fee", "GBP", 20, 23),
        ("inbound_shipping", "EUR", 510, 510),
        ("customs", "EUR", 500, 500),
    ]  # fmt: skip

    # A's sell price rises: a material change -> `updated`; then it falls -> `closed`.
    later = T0 + timedelta(hours=1)
    await produce(
        kafka_bootstrap,
        s.topic("keepa.products"),
        [env(A, Market.FR, later, buy_box=5600, fba_fee=300, referral_pct=15.0)],
    )
    even_later = T0 + timedelta(hours=2)
    await produce(
        kafka_bootstrap,
        s.topic("keepa.products"),
        [env(A, Market.FR, even_later, buy_box=3000, fba_fee=300, referral_pct=15.0)],
    )
    records = await consume_until(
        kafka_bootstrap, s.topic("arbitrage.opportunities"), lambda r: len(_of(ours, r)) >= 4
    )
    a_events = _of({A}, records)
    assert [e["event"] for e in a_events] == ["opened", "updated", "closed"]
    # 5600: net sell 5600 / 1.2 = 4666.67 -> 4667, referral 840, DSF 3 % x 840 = 25.2 -> 25
    # + 9 = 34, storage 6 -> profit 4667 - 840 - 300 - 34 - 6 - 510 - 1681 = 1296
    # (+408 >= 50: updated)
    assert a_events[1]["profit_eur_cents"] == 1296
    # 3000: 2500 - 450 - 300 - (13.5 -> 14 + 9) - 6 - 510 - 1681 = -470
    assert a_events[2]["reason"] == "below_threshold"
    assert a_events[2]["profit_eur_cents"] == -470
    assert a_events[2]["failed_thresholds"] == ["min_profit", "min_roi"]

    # Elasticsearch: one document per route with its state; products and price history.
    # Once the worker has drained, exactly these documents, no more.
    await wait_worker_drained(worker, timeout_s=60)
    docs = _opportunity_docs(es, s, ours)
    assert docs[f"{A}:DE:FR"]["state"] == "closed"
    assert set(docs) == {f"{A}:DE:FR", f"{B}:DE:GB"}
    assert docs[f"{B}:DE:GB"]["state"] == "open"
    assert docs[f"{B}:DE:GB"]["profit_eur_cents"] == 984
    es.indices.refresh(index=s.index("products"))
    product = es.get(index=s.index("products"), id=f"{A}:FR")["_source"]
    assert product["sell_price_minor"] == 3000  # the latest observation
    es.indices.refresh(index=s.index("price-history"))
    history = es.count(index=s.index("price-history"), query={"term": {"asin": A}})["count"]
    assert history == 4  # DE once, FR three times


async def test_bad_input_goes_to_the_dlq_and_good_input_around_it_is_processed(
    worker: WorkerProcess, kafka_bootstrap: str
) -> None:
    s = worker.settings
    good_before = env("B0GOODAAA1", Market.DE, amazon=2000)
    good_after = env("B0GOODAAA1", Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0)
    valid = keepa_product("B0BADBAD01", Market.DE, amazon=2000)
    bad: list[tuple[bytes | None, bytes, str]] = [
        (b"B0BADBAD01", b"{not json", "malformed_json"),
        (b"B0BADBAD01", b"[1, 2, 3]", "not_an_object"),
        (
            b"B0BADBAD01",
            orjson.dumps({"domain": "DE", "fetched_at": FETCHED.isoformat()}),
            "missing_product",
        ),
        (b"B0BADBAD01", orjson.dumps(envelope({**valid, "asin": None}, FETCHED)), "missing_asin"),
        (
            b"B0BADBAD01",
            orjson.dumps(envelope({**valid, "asin": "b0bad"}, FETCHED)),
            "invalid_asin",
        ),
        (b"B0OTHER001", orjson.dumps(envelope(valid, FETCHED)), "asin_mismatch"),
        (
            b"B0BADBAD01",
            orjson.dumps(envelope({**valid, "domainId": 77}, FETCHED, domain="XX")),
            "unknown_domain",
        ),
        (
            b"B0BADBAD01",
            orjson.dumps({**envelope(valid, FETCHED), "fetched_at": "yesterday"}),
            "bad_timestamp",
        ),
        (
            b"B0BADBAD01",
            orjson.dumps(envelope({**valid, "csv": [[1, -7]]}, FETCHED)),
            "nonsense_price",
        ),
        (None, orjson.dumps(envelope(valid, FETCHED)), "missing_key"),
        (b"B0BADBAD01", b"", "malformed_json"),
        (
            b"B0BADBAD01",
            orjson.dumps({**envelope(valid, FETCHED), "schema_version": 2}),
            "unsupported_version",
        ),
    ]
    await produce(
        kafka_bootstrap,
        s.topic("keepa.products"),
        [good_before, *((k, v) for k, v, _ in bad), good_after],
    )
    dlq = await consume_until(
        kafka_bootstrap, s.topic("keepa.products.dlq"), lambda r: len(r) >= len(bad)
    )
    reasons = sorted(dict(r.headers)["dlq.reason"].decode() for r in dlq)
    assert reasons == sorted(reason for _, _, reason in bad)
    by_message = {(r.key, r.value): r for r in dlq}
    for key, value, reason in bad:  # the original key and value bytes are kept
        letter = DeadLetter.from_headers(by_message[(key, value)].headers)
        assert letter.reason == reason
        assert letter.error
        assert letter.source_topic == s.topic("keepa.products")
    records = await consume_until(
        kafka_bootstrap, s.topic("arbitrage.opportunities"),
        lambda r: bool(_of({"B0GOODAAA1"}, r)),
    )  # fmt: skip
    assert [e["event"] for e in _of({"B0GOODAAA1"}, records)] == ["opened"]
    assert worker.alive()
    await wait_worker_drained(worker, timeout_s=60)
    assert worker.counter("dlq") == len(bad)  # no other test of this module dead-letters


async def test_web_view_shows_the_quotes_and_open_opportunities_of_an_asin(
    worker: WorkerProcess, kafka_bootstrap: str
) -> None:
    asin = "B0WEBVIEW1"  # DE -> GB as B above: opens at 984 cents
    await produce(
        kafka_bootstrap,
        worker.settings.topic("keepa.products"),
        [
            env(asin, Market.DE, amazon=2000),
            env(asin, Market.GB, buy_box=5000, fba_fee=250, referral_pct=15.0),
        ],
    )
    await wait_worker_drained(worker, timeout_s=60)
    base = f"http://127.0.0.1:{worker.web_port}/arbitrage/asin"
    async with httpx.AsyncClient(timeout=5, follow_redirects=True) as client:
        body = (await client.get(f"{base}/{asin}/")).json()
        bad = await client.get(f"{base}/nope/")
    assert set(body["quotes"]) == {"DE", "GB"}
    assert set(body["open_opportunities"]) == {"DE:GB"}
    assert body["open_opportunities"]["DE:GB"]["profit_eur_cents"] == 984
    assert bad.status_code == 400
