"""``arbitrage ingest --once`` on the real Kafka and Elasticsearch, Keepa faked by a local HTTP
server answering in Keepa's real JSON (:class:`tests.airflow.keepa_fake.FakeKeepa`): the due
watchlist ASINs reach ``keepa.products`` without Airflow, the run is recorded, a failed batch
is reported by its keys and makes the exit code non-zero."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from elasticsearch import AsyncElasticsearch, Elasticsearch
from typer.testing import CliRunner

from app.cli import cli
from app.domain.markets import Market
from app.domain.watchlist import WatchlistEntry
from app.es.indices import ensure_indices
from app.ingest.ingestion import ONCE_DAG_ID
from app.ingest.runs import INGEST_RUNS
from app.ingest.topic_reader import read_to_end
from app.ingest.watchlist import WatchlistStore
from app.settings import Settings, get_settings
from tests.airflow.keepa_fake import FakeKeepa
from tests.unit.keepa.keepa_fakes import API_KEY

pytestmark = pytest.mark.integration

WATCHLIST = [
    WatchlistEntry("B0ON000001", markets=("DE", "GB")),
    WatchlistEntry("B0ON000002", markets=("DE", "FR"), priority=5),
    WatchlistEntry("B0ON000003", markets=("IT",)),
]
EXPECTED_PAIRS = {(e.asin, m) for e in WATCHLIST for m in e.markets}


@pytest.fixture
def keepa() -> FakeKeepa:
    return FakeKeepa()


@pytest.fixture
def once_settings(
    stack: object,
    es: Elasticsearch,
    unique: str,
    keepa: FakeKeepa,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Settings]:
    """This test's prefixes (deleted with the session's), the fake Keepa's URL and key, the
    indices and the watchlist; ``keepa.products`` is left for the command to create."""
    with keepa.serve() as url:
        monkeypatch.setenv("TOPIC_PREFIX", f"{unique}-")
        monkeypatch.setenv("ELASTICSEARCH_INDEX_PREFIX", f"{unique}-")
        monkeypatch.setenv("KEEPA_API_KEY", API_KEY)
        monkeypatch.setenv("KEEPA_API_URL", url)
        monkeypatch.setenv("KEEPA_BATCH_SIZE", "2")
        get_settings.cache_clear()
        settings = Settings()

        async def indices() -> None:
            async with AsyncElasticsearch(settings.elasticsearch_url) as client:
                await ensure_indices(client, settings)

        asyncio.run(indices())
        assert WatchlistStore(es, settings).add(WATCHLIST) == len(WATCHLIST)
        yield settings
    get_settings.cache_clear()


def _published(settings: Settings) -> Counter[tuple[str, str]]:
    records = asyncio.run(
        read_to_end(
            settings.kafka_bootstrap_servers, settings.topic("keepa.products"), timeout_s=30
        )
    )
    published: Counter[tuple[str, str]] = Counter()
    for key, value in records:
        envelope = orjson.loads(value)
        assert key is not None
        assert key.decode() == envelope["product"]["asin"]
        market = Market.from_keepa_domain_id(envelope["product"]["domainId"]).value
        published[(key.decode(), market)] += 1
    return published


def _run_document(es: Elasticsearch, settings: Settings) -> dict[str, Any]:
    index = settings.index(INGEST_RUNS)
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"match_all": {}})["hits"]["hits"]
    assert len(hits) == 1
    doc: dict[str, Any] = hits[0]["_source"]
    assert doc["dag_id"] == ONCE_DAG_ID
    return doc


def test_ingest_once_publishes_the_due_asins(
    once_settings: Settings, es: Elasticsearch, keepa: FakeKeepa
) -> None:
    result = CliRunner().invoke(cli, ["ingest", "--once"])

    assert result.exit_code == 0, result.output
    assert _published(once_settings) == Counter(dict.fromkeys(EXPECTED_PAIRS, 1))
    assert keepa.errors == []
    assert keepa.tokens_charged == len(EXPECTED_PAIRS)
    out = result.output
    assert "planned: 3 ASINs, 5 ASIN-market fetches in 4 batches" in out  # DE: one batch of 2
    assert "published: 5 envelopes to keepa.products" in out
    assert f"tokens: {len(EXPECTED_PAIRS)} consumed, {keepa.tokens_left} left" in out
    assert "FAILED" not in out
    assert API_KEY not in out
    doc = _run_document(es, once_settings)
    assert (doc["batches"], doc["failed_batches"]) == (4, 0)
    assert doc["envelopes_published"] == doc["tokens_consumed"] == len(EXPECTED_PAIRS)


def test_a_failed_batch_is_reported_by_key_and_fails_the_command(
    once_settings: Settings, es: Elasticsearch, keepa: FakeKeepa
) -> None:
    """A product too large to publish: its batch fails (no retry here), the others publish."""
    keepa.oversized["B0ON000003"] = 1

    result = CliRunner().invoke(cli, ["ingest", "--once"])

    assert result.exit_code == 1, result.output
    assert "FAILED IT [B0ON000003]" in result.output
    assert "unconfirmed keys: B0ON000003" in result.output
    assert _published(once_settings) == Counter(
        dict.fromkeys(EXPECTED_PAIRS - {("B0ON000003", "IT")}, 1)
    )
    doc = _run_document(es, once_settings)
    assert (doc["batches"], doc["failed_batches"]) == (4, 1)
    assert doc["tokens_consumed"] == keepa.tokens_charged == len(EXPECTED_PAIRS)


def test_an_empty_budget_calls_keepa_not_at_all(
    once_settings: Settings, keepa: FakeKeepa, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_TOKEN_BUDGET", "0")

    result = CliRunner().invoke(cli, ["ingest", "--once"])

    assert result.exit_code == 0, result.output
    assert keepa.calls == []
    assert "planned: 0 ASINs" in result.output
