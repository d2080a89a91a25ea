"""``dag.test()`` of keepa_ingest against the real Kafka and Elasticsearch, Keepa faked at the
HTTP boundary (``responses``) with bodies in Keepa's real JSON format."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import responses
from aiokafka.partitioner import murmur2
from arbitrage_dags.kafka_admin import ensure_topic
from elasticsearch import AsyncElasticsearch, Elasticsearch

from app.domain.markets import Market
from app.domain.watchlist import WatchlistEntry
from app.es.indices import ensure_indices
from app.ingest.runs import INGEST_RUNS
from app.ingest.watchlist import WatchlistStore
from app.settings import Settings
from tests.airflow.airflow_support import read_topic, run_dag
from tests.unit.keepa.keepa_fakes import (
    API_KEY,
    BASE_URL,
    SERVER_TIME_MS,
    load_product_template,
    make_product,
    out_of_tokens_body,
    product_body,
    query_of,
)

pytestmark = pytest.mark.integration

WATCHLIST = [
    WatchlistEntry("B0AF000001", markets=("DE", "GB")),
    WatchlistEntry("B0AF000002", markets=("DE", "GB"), priority=5),
    WatchlistEntry("B0AF000003", markets=("DE", "FR", "GB")),
    WatchlistEntry("B0AF000004", markets=("FR",)),
    WatchlistEntry("B0AF000005"),  # all five markets
]
EXPECTED_PAIRS = {(e.asin, m) for e in WATCHLIST for m in e.markets}


@dataclass
class FakeKeepa:
    """Keepa's /product: products in its JSON format, a token balance, optional 429s."""

    throttle_request: int | None = None
    """The request with this serial number (0 = first) gets a 429 (out of tokens)."""
    refill_in_ms: int = 300
    tokens_left: int = 1180
    calls: list[dict[str, Any]] = field(default_factory=list)
    template: dict[str, Any] = field(default_factory=load_product_template)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        query = query_of(request)
        assert query["key"] == API_KEY
        assert query["stats"] == "90"
        assert query["buybox"] == "0"
        domain = int(query["domain"])
        asins = query["asin"].split(",")
        with self._lock:
            serial = len(self.calls)
            stamp = SERVER_TIME_MS + serial * 1000
            if serial == self.throttle_request:
                self.calls.append(
                    {"at": time.monotonic(), "domain": domain, "asins": asins, "status": 429}
                )
                body = out_of_tokens_body(
                    tokens_left=-2, refill_in=self.refill_in_ms, timestamp=stamp
                )
                return 429, {}, json.dumps(body)
            self.tokens_left -= len(asins)
            self.calls.append(
                {"at": time.monotonic(), "domain": domain, "asins": asins, "status": 200}
            )
            products = [make_product(self.template, a, domain) for a in asins]
            body = product_body(
                products, tokens_left=self.tokens_left, refill_in=41_250, timestamp=stamp
            )
            return 200, {}, json.dumps(body)

    def _log(self, domain: int, asins: list[str], status: int) -> None:
        self.calls.append(
            {"at": time.monotonic(), "domain": domain, "asins": asins, "status": status}
        )


def _prepare(settings: Settings, es: Elasticsearch, entries: list[WatchlistEntry]) -> None:
    """What the worker and the CLI would have done: topics, indices, the watchlist."""
    ensure_topic(
        settings.kafka_bootstrap_servers,
        settings.topic("keepa.products"),
        partitions=settings.topic_partitions,
    )

    async def indices() -> None:
        async with AsyncElasticsearch(settings.elasticsearch_url) as client:
            await ensure_indices(client, settings)

    asyncio.run(indices())
    if entries:
        assert WatchlistStore(es, settings).add(entries) == len(entries)


def _expected_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (Java client, aiokafka, Faust): murmur2, positive, mod n."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def _run_document(es: Elasticsearch, settings: Settings) -> dict[str, Any]:
    index = settings.index(INGEST_RUNS)
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"match_all": {}})["hits"]["hits"]
    assert len(hits) == 1
    doc: dict[str, Any] = hits[0]["_source"]
    assert hits[0]["_id"] == f"keepa_ingest:{doc['run_id']}"
    return doc


def _assert_no_secret_anywhere(home: Path, output: str) -> None:
    assert API_KEY not in output
    for path in home.rglob("*"):
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path


def test_partitioner_is_kafkas_murmur2() -> None:
    """aiokafka's murmur2 reproduces the Java client's (Kafka's UtilsTest vectors)."""
    vectors = {
        "21": -973932308,
        "foobar": -790332482,
        "a-little-bit-long-string": -985981536,
        "a-little-bit-longer-string": -1486304829,
        "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        "abc": 479470107,
    }
    for text, java in vectors.items():
        assert murmur2(text.encode()) == java & 0xFFFFFFFF


def test_keepa_ingest_publishes_the_planned_envelopes(
    isolated: Settings,
    es: Elasticsearch,
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    settings = isolated
    monkeypatch.setenv("KEEPA_TOKEN_BUDGET", "100")
    monkeypatch.setenv("KEEPA_BATCH_SIZE", "3")
    _prepare(settings, es, WATCHLIST)
    keepa = FakeKeepa()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{BASE_URL}/product", callback=keepa)
        dag_run, states = run_dag("keepa_ingest")

    assert str(dag_run.state) == "success", states
    # DE 4 ASINs and GB 4 -> 2 batches each; FR 3, IT 1, ES 1 -> 1 each.
    mapped = sorted(k for k in states if k.startswith("fetch_and_publish["))
    assert len(mapped) == 7
    assert set(states.values()) == {"success"}
    assert all(len(c["asins"]) <= 3 for c in keepa.calls)

    records = read_topic(
        settings.kafka_bootstrap_servers,
        settings.topic("keepa.products"),
        partitions=settings.topic_partitions,
        expected=len(EXPECTED_PAIRS),
    )
    published = Counter()
    for record in records:
        envelope = orjson.loads(record.value)
        assert record.key is not None
        asin = record.key.decode()
        assert envelope["product"]["asin"] == asin
        assert Market(envelope["domain"]).keepa_domain_id == envelope["product"]["domainId"]
        assert record.partition == _expected_partition(record.key, settings.topic_partitions)
        published[(asin, envelope["domain"])] += 1
    assert set(published) == EXPECTED_PAIRS
    assert max(published.values()) == 1  # each fetched product exactly once

    doc = _run_document(es, settings)
    assert doc["envelopes_published"] == doc["asins_requested"] == len(EXPECTED_PAIRS)
    assert doc["batches"] == 7
    assert doc["tokens_consumed"] == len(EXPECTED_PAIRS)
    assert doc["tokens_left"] == keepa.tokens_left == 1180 - len(EXPECTED_PAIRS)
    assert doc["refill_rate"] == 20
    by_market = {m["market"]: m for m in doc["markets"]}
    assert {m: by_market[m]["envelopes_published"] for m in by_market} == dict(
        Counter(m for _, m in EXPECTED_PAIRS)
    )
    _assert_no_secret_anywhere(airflow_home, "".join(capfd.readouterr()))


def test_keepa_429_mid_run_delays_but_loses_nothing(
    isolated: Settings,
    es: Elasticsearch,
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    settings = isolated
    monkeypatch.setenv("KEEPA_BATCH_SIZE", "2")
    entries = [WatchlistEntry(f"B0AF42900{i}", markets=("DE", "FR", "GB")) for i in range(1, 4)]
    _prepare(settings, es, entries)
    # 6 batches (3 markets x 2); the third request is refused for lack of tokens.
    keepa = FakeKeepa(throttle_request=2, refill_in_ms=300)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{BASE_URL}/product", callback=keepa)
        dag_run, states = run_dag("keepa_ingest")

    assert str(dag_run.state) == "success", states
    refused = [c for c in keepa.calls if c["status"] == 429]
    assert len(refused) == 1
    retried = next(
        c
        for c in keepa.calls
        if c["status"] == 200
        and (c["domain"], c["asins"]) == (refused[0]["domain"], refused[0]["asins"])
    )
    # Waited as Keepa said: refillIn (0.3 s) + the planner's 1 s safety margin.
    assert retried["at"] - refused[0]["at"] >= 1.25
    assert any(c["at"] < refused[0]["at"] for c in keepa.calls)  # mid-run, not first
    assert any(c["at"] > retried["at"] for c in keepa.calls)

    expected = {(e.asin, m) for e in entries for m in e.markets}
    records = read_topic(
        settings.kafka_bootstrap_servers,
        settings.topic("keepa.products"),
        partitions=settings.topic_partitions,
        expected=len(expected),
    )
    got = Counter(
        (
            r.key.decode(),
            Market.from_keepa_domain_id(orjson.loads(r.value)["product"]["domainId"]).value,
        )
        for r in records
        if r.key is not None
    )
    assert set(got) == expected
    assert max(got.values()) == 1

    doc = _run_document(es, settings)
    assert doc["envelopes_published"] == len(expected)
    assert doc["tokens_consumed"] == len(expected)  # the 429 cost nothing
    _assert_no_secret_anywhere(airflow_home, "".join(capfd.readouterr()))


def test_empty_watchlist_runs_and_records_nothing(
    isolated: Settings, es: Elasticsearch, airflow_home: Path
) -> None:
    settings = isolated
    _prepare(settings, es, [])
    with responses.RequestsMock() as rsps:  # any Keepa request would fail the test
        dag_run, states = run_dag("keepa_ingest")
        assert len(rsps.calls) == 0
    assert str(dag_run.state) == "success", states
    assert states["record"] == "success"
    doc = _run_document(es, settings)
    assert doc["batches"] == doc["envelopes_published"] == doc["tokens_consumed"] == 0
    assert doc["tokens_left"] is None
