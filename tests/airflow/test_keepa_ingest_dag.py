"""``dag.test()`` of keepa_ingest against the real Kafka and Elasticsearch, Keepa faked at the
HTTP boundary (``responses``, with :class:`tests.airflow.keepa_fake.FakeKeepa`) with bodies in
Keepa's real JSON format."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import responses
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2
from arbitrage_dags.kafka_admin import ensure_topic
from elasticsearch import AsyncElasticsearch, Elasticsearch

from app.contracts.fetch_requests import FETCH_REQUEST, FetchRequest
from app.domain.markets import Market
from app.domain.watchlist import WatchlistEntry
from app.es.indices import ensure_indices
from app.ingest.fetch_requests import read_pending_requests
from app.ingest.runs import INGEST_ATTEMPTS, INGEST_RUNS, ensure_ingest_attempts_index
from app.ingest.watchlist import WatchlistStore
from app.settings import Settings
from tests.airflow.airflow_support import read_topic, run_dag
from tests.airflow.keepa_fake import FakeKeepa
from tests.unit.keepa.keepa_fakes import API_KEY, BASE_URL

pytestmark = pytest.mark.integration

WATCHLIST = [
    WatchlistEntry("B0AF000001", markets=("DE", "GB")),
    WatchlistEntry("B0AF000002", markets=("DE", "GB"), priority=5),
    WatchlistEntry("B0AF000003", markets=("DE", "FR", "GB")),
    WatchlistEntry("B0AF000004", markets=("FR",)),
    WatchlistEntry("B0AF000005"),  # all five markets
]
EXPECTED_PAIRS = {(e.asin, m) for e in WATCHLIST for m in e.markets}


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


def _published(settings: Settings) -> Counter[tuple[str, str]]:
    """(ASIN, market) -> how often it is on the topic, read to its end offsets."""
    records = read_topic(
        settings.kafka_bootstrap_servers,
        settings.topic("keepa.products"),
        partitions=settings.topic_partitions,
    )
    published: Counter[tuple[str, str]] = Counter()
    for record in records:
        envelope = orjson.loads(record.value)
        assert record.key is not None
        asin = record.key.decode()
        assert envelope["product"]["asin"] == asin
        assert Market(envelope["domain"]).keepa_domain_id == envelope["product"]["domainId"]
        assert record.partition == _expected_partition(record.key, settings.topic_partitions)
        market = Market.from_keepa_domain_id(envelope["product"]["domainId"]).value
        published[(asin, market)] += 1
    return published


def _attempts(es: Elasticsearch, settings: Settings) -> list[dict[str, Any]]:
    index = settings.index(INGEST_ATTEMPTS)
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"match_all": {}}, size=1000)["hits"]["hits"]
    return sorted((h["_source"] for h in hits), key=lambda d: (d["map_index"], d["try_number"]))


def _partition_count(bootstrap: str, topic: str) -> int | None:
    async def describe() -> int | None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            if topic not in await admin.list_topics():
                return None
            (meta,) = await admin.describe_topics([topic])
            return len(meta["partitions"])
        finally:
            await admin.close()

    return asyncio.run(describe())


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
    logical_date = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{BASE_URL}/product", callback=keepa)
        dag_run, states = run_dag("keepa_ingest", logical_date=logical_date)

    assert str(dag_run.state) == "success", states
    assert keepa.errors == []
    # DE 4 ASINs and GB 4 -> 2 batches each; FR 3, IT 1, ES 1 -> 1 each.
    mapped = sorted(k for k in states if k.startswith("fetch_and_publish["))
    assert len(mapped) == 7
    assert set(states.values()) == {"success"}
    assert all(len(c["asins"]) <= 3 for c in keepa.calls)

    published = _published(settings)
    assert set(published) == EXPECTED_PAIRS
    assert max(published.values()) == 1  # each fetched product exactly once

    doc = _run_document(es, settings)
    assert doc["envelopes_published"] == doc["asins_requested"] == len(EXPECTED_PAIRS)
    assert doc["batches"] == doc["attempts"] == 7
    assert doc["failed_batches"] == 0
    assert doc["tokens_consumed"] == keepa.tokens_charged == len(EXPECTED_PAIRS)
    assert doc["tokens_left"] == keepa.tokens_left == 1180 - len(EXPECTED_PAIRS)
    assert doc["refill_rate"] == 20
    # Planned for the run's logical date (a cleared run plans the same), not the clock.
    assert doc["planned_at"] == "2026-03-02T09:15:00Z"
    by_market = {m["market"]: m for m in doc["markets"]}
    assert {m: by_market[m]["envelopes_published"] for m in by_market} == dict(
        Counter(m for _, m in EXPECTED_PAIRS)
    )
    assert [a["status"] for a in _attempts(es, settings)] == ["published"] * 7
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
    assert keepa.errors == []
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
    published = _published(settings)
    assert set(published) == expected
    assert max(published.values()) == 1

    doc = _run_document(es, settings)
    assert doc["envelopes_published"] == len(expected)
    assert doc["tokens_consumed"] == len(expected)  # the 429 cost nothing
    _assert_no_secret_anywhere(airflow_home, "".join(capfd.readouterr()))


def test_a_failed_try_counts_its_tokens_and_the_retry_publishes(
    isolated: Settings, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second batch's first try fetches (2 tokens) but cannot publish (its product is
    over Kafka's request limit); its retry fetches again and publishes. Keepa charged 6
    tokens, the successful tries 4: the run records 6."""
    settings = isolated
    monkeypatch.setenv("KEEPA_BATCH_SIZE", "2")
    entries = [WatchlistEntry(f"B0AF50000{i}", markets=("DE",)) for i in range(1, 5)]
    _prepare(settings, es, entries)
    keepa = FakeKeepa(oversized={"B0AF500003": 1})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{BASE_URL}/product", callback=keepa)
        dag_run, states = run_dag("keepa_ingest", retries=2)

    assert str(dag_run.state) == "success", states
    assert keepa.errors == []
    assert keepa.tokens_charged == 6
    doc = _run_document(es, settings)
    assert (doc["batches"], doc["failed_batches"], doc["attempts"]) == (2, 0, 3)
    assert doc["tokens_consumed"] == 6
    assert doc["envelopes_published"] == 4
    attempts = _attempts(es, settings)
    failed = [a for a in attempts if a["status"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["tokens_consumed"] == 2
    assert failed[0]["envelopes_published"] == 1  # its other product was delivered
    assert "PublishError" in failed[0]["error"]
    published = _published(settings)
    assert set(published) == {(e.asin, "DE") for e in entries}
    # At-least-once: the retried batch's other product is there twice (its first try had
    # delivered it), the oversized one once (only its retry could deliver it), others once.
    twice = [k for k, n in published.items() if n == 2]
    assert len(twice) == 1
    assert twice[0] != ("B0AF500003", "DE")
    assert max(published.values()) == 2


def test_a_batch_that_keeps_failing_is_recorded_and_fails_the_run(
    isolated: Settings, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = isolated
    monkeypatch.setenv("KEEPA_BATCH_SIZE", "1")
    entries = [WatchlistEntry(f"B0AF60000{i}", markets=("GB",)) for i in range(1, 4)]
    _prepare(settings, es, entries)
    keepa = FakeKeepa(oversized={"B0AF600002": 99})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{BASE_URL}/product", callback=keepa)
        dag_run, states = run_dag("keepa_ingest", retries=1)

    assert str(dag_run.state) == "failed", states
    assert states["record"] == "failed"  # after writing the run: it fails the run visibly
    assert sorted(v for k, v in states.items() if k.startswith("fetch_and_publish[")) == [
        "failed",
        "success",
        "success",
    ]
    doc = _run_document(es, settings)
    assert (doc["batches"], doc["failed_batches"], doc["attempts"]) == (3, 1, 4)
    assert doc["tokens_consumed"] == keepa.tokens_charged == 4  # 2 tries of the failing one
    assert doc["envelopes_published"] == 2
    assert set(_published(settings)) == {("B0AF600001", "GB"), ("B0AF600003", "GB")}


def test_successful_tries_count_even_when_the_ledger_cannot_be_written(
    isolated: Settings, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ingest-attempts refuses writes: the batches still succeed and the run still counts
    their tokens, from the tasks' XCom."""
    settings = isolated
    monkeypatch.setenv("KEEPA_BATCH_SIZE", "1")
    entries = [WatchlistEntry(f"B0AF90000{i}", markets=("FR",)) for i in range(1, 3)]
    _prepare(settings, es, entries)
    ledger = ensure_ingest_attempts_index(es, settings)
    es.indices.put_settings(index=ledger, settings={"index.blocks.write": True})
    keepa = FakeKeepa()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{BASE_URL}/product", callback=keepa)
        dag_run, states = run_dag("keepa_ingest", retries=0)

    assert str(dag_run.state) == "success", states
    assert _attempts(es, settings) == []
    doc = _run_document(es, settings)
    assert (doc["batches"], doc["failed_batches"], doc["attempts"]) == (2, 0, 2)
    assert doc["tokens_consumed"] == keepa.tokens_charged == 2
    assert doc["envelopes_published"] == 2


def test_a_missing_topic_is_created_before_any_token_is_spent(
    isolated: Settings, es: Elasticsearch
) -> None:
    """No worker has run yet: plan creates keepa.products with the app's partition count."""
    settings = isolated
    topic = settings.topic("keepa.products")
    entries = [WatchlistEntry("B0AF700001", markets=("DE", "IT"))]
    _prepare(settings, es, entries)
    asyncio.run(_delete_topic(settings.kafka_bootstrap_servers, topic))
    assert _partition_count(settings.kafka_bootstrap_servers, topic) is None
    keepa = FakeKeepa()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{BASE_URL}/product", callback=keepa)
        dag_run, states = run_dag("keepa_ingest", retries=0)

    assert str(dag_run.state) == "success", states
    assert _partition_count(settings.kafka_bootstrap_servers, topic) == settings.topic_partitions
    assert set(_published(settings)) == {("B0AF700001", "DE"), ("B0AF700001", "IT")}
    assert _run_document(es, settings)["tokens_consumed"] == 2


def test_kafka_unreachable_fails_the_plan_before_any_token_is_spent(
    isolated: Settings,
    es: Elasticsearch,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    settings = isolated
    _prepare(settings, es, [WatchlistEntry("B0AF800001", markets=("DE",))])
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")  # discard port: refused

    with responses.RequestsMock() as rsps:  # any Keepa request would fail the test
        dag_run, states = run_dag("keepa_ingest", retries=0)
        assert len(rsps.calls) == 0

    assert str(dag_run.state) == "failed", states
    assert states["plan"] == "failed"
    assert states["record"] == "failed"
    output = "".join(capfd.readouterr())
    assert "could not be created on 127.0.0.1:9" in output
    assert "no Keepa token was spent" in output


def test_a_missing_api_key_fails_the_plan_not_every_batch(
    isolated: Settings,
    es: Elasticsearch,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    settings = isolated
    _prepare(settings, es, [WatchlistEntry("B0AF800002", markets=("DE", "FR"))])
    monkeypatch.delenv("KEEPA_API_KEY")

    with responses.RequestsMock() as rsps:  # any Keepa request would fail the test
        dag_run, states = run_dag("keepa_ingest", retries=0)
        assert len(rsps.calls) == 0

    assert str(dag_run.state) == "failed", states
    assert states["plan"] == "failed"
    assert "KEEPA_API_KEY is not set" in "".join(capfd.readouterr())


async def _delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        for _ in range(50):
            if topic not in await admin.list_topics():
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


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
    assert doc["attempts"] == doc["failed_batches"] == 0
    assert doc["tokens_left"] is None


def test_a_fetch_request_is_planned_first_and_marked_done_once_published(
    isolated: Settings, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Keepa notification for a market without a quote made the worker ask for a fetch of
    B0AF700009 on GB (not a watched pair): with a budget of 2 tokens the run fetches it
    first, then one of the watched pairs, and tombstones the request."""
    settings = isolated
    monkeypatch.setenv("KEEPA_TOKEN_BUDGET", "2")
    _prepare(settings, es, [WatchlistEntry("B0AF700001", markets=("DE", "FR"))])
    topic = settings.topic("keepa.fetch_requests")
    ensure_topic(
        settings.kafka_bootstrap_servers,
        topic,
        partitions=1,
        config={"cleanup.policy": "compact"},
    )
    request = FetchRequest(
        asin="B0AF700009",
        market=Market.GB,
        reason="notification_without_quote",
        requested_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )

    async def ask() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(topic, FETCH_REQUEST.encode(request), key=b"B0AF700009")
        finally:
            await producer.stop()

    asyncio.run(ask())
    assert set(read_pending_requests(settings)) == {"B0AF700009"}
    keepa = FakeKeepa()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, f"{BASE_URL}/product", callback=keepa)
        dag_run, states = run_dag("keepa_ingest")

    assert str(dag_run.state) == "success", states
    published = _published(settings)
    assert ("B0AF700009", "GB") in published
    assert len(published) == 2  # the budget: the request and one watched pair
    assert read_pending_requests(settings) == {}
    [*_, last] = read_topic(settings.kafka_bootstrap_servers, topic, partitions=1)
    assert (last.key, last.value) == (b"B0AF700009", None)  # a tombstone
