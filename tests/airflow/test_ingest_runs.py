"""Run summaries of keepa_ingest (app.ingest.runs): folding batch outcomes, the ES document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from app.ingest.runs import (
    INGEST_RUNS,
    BatchOutcome,
    ensure_ingest_runs_index,
    summarise_run,
    write_run,
)
from app.settings import Settings

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _outcome(market: str, n: int, *, left: int | None, at: datetime | None) -> BatchOutcome:
    return BatchOutcome(
        market=market,
        asins_requested=n,
        products_received=n,
        envelopes_published=n,
        tokens_consumed=n,
        partitions={"0": n},
        tokens_left=left,
        refill_rate=None if left is None else 20,
        token_state_at=at,
    )


def test_xcom_round_trip() -> None:
    outcome = _outcome("GB", 3, left=97, at=T0)
    data = outcome.to_xcom()
    assert data["token_state_at"] == "2026-11-25T12:00:00Z"
    assert BatchOutcome.from_xcom(data) == outcome
    assert (
        BatchOutcome.from_xcom(_outcome("DE", 1, left=None, at=None).to_xcom()).tokens_left is None
    )


def test_summary_totals_per_market_and_latest_balance() -> None:
    outcomes = [
        _outcome("GB", 3, left=90, at=T0 + timedelta(seconds=5)),
        _outcome("DE", 100, left=120, at=T0),
        _outcome("DE", 20, left=70, at=T0 + timedelta(seconds=9)),
        _outcome("FR", 2, left=None, at=None),
    ]
    summary = summarise_run(outcomes, dag_id="keepa_ingest", run_id="r1", recorded_at=T0)
    assert (summary.batches, summary.envelopes_published, summary.tokens_consumed) == (4, 125, 125)
    assert summary.tokens_left == 70  # Keepa's newest state, not the last to arrive
    assert [(m.market, m.batches, m.tokens_consumed) for m in summary.markets] == [
        ("DE", 2, 120),
        ("FR", 1, 2),
        ("GB", 1, 3),
    ]
    assert "tokens consumed 125, left 70 (refill 20/min)" in summary.describe()


def test_empty_run() -> None:
    summary = summarise_run([], dag_id="keepa_ingest", run_id="r0", recorded_at=T0)
    assert summary.tokens_left is None
    assert summary.to_document()["markets"] == []
    assert "left unknown" in summary.describe()


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        _outcome("DE", -1, left=None, at=None)


@pytest.mark.integration
def test_write_is_idempotent_per_run(isolated: Settings, es: Elasticsearch) -> None:
    settings = isolated
    name = ensure_ingest_runs_index(es, settings)
    assert name == settings.index(INGEST_RUNS)
    assert ensure_ingest_runs_index(es, settings) == name  # exists: no error
    summary = summarise_run(
        [_outcome("DE", 5, left=95, at=T0)], dag_id="keepa_ingest", run_id="r1", recorded_at=T0
    )
    assert write_run(es, settings, summary) == "keepa_ingest:r1"
    write_run(es, settings, summary)  # a retried `record` task
    es.indices.refresh(index=name)
    hits = es.search(index=name, query={"match_all": {}})["hits"]["hits"]
    assert len(hits) == 1
    assert hits[0]["_source"] == summary.to_document()
    # The mapping is strict: an unknown field is rejected, not silently mapped.
    mapping = es.indices.get_mapping(index=name)[name]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"]["markets"]["type"] == "nested"
