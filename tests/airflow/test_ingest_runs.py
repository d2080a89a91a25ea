"""Run summaries of keepa_ingest (app.ingest.runs): the attempt ledger, folding it into a run,
the ES documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from app.ingest.runs import (
    INGEST_ATTEMPTS,
    INGEST_ATTEMPTS_MAPPING,
    INGEST_RUNS,
    INGEST_RUNS_MAPPING,
    AttemptKey,
    BatchAttempt,
    BatchOutcome,
    IngestRunSummary,
    ensure_ingest_runs_index,
    load_attempts,
    summarise_run,
    write_attempt,
    write_run,
)
from app.settings import Settings

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _outcome(
    market: str,
    n: int,
    *,
    left: int | None,
    at: datetime | None,
    published: int | None = None,
    tokens: int | None = None,
) -> BatchOutcome:
    return BatchOutcome(
        market=market,
        asins_requested=n,
        products_received=n,
        envelopes_published=n if published is None else published,
        tokens_consumed=n if tokens is None else tokens,
        partitions={"0": n},
        tokens_left=left,
        refill_rate=None if left is None else 20,
        token_state_at=at,
    )


def _attempt(
    map_index: int,
    try_number: int,
    outcome: BatchOutcome,
    *,
    error: str | None = None,
    run_id: str = "r1",
    seconds: int = 0,
) -> BatchAttempt:
    return BatchAttempt(
        AttemptKey("keepa_ingest", run_id, map_index, try_number),
        outcome,
        finished_at=T0 + timedelta(seconds=seconds),
        error=error,
    )


def _summary(attempts: list[BatchAttempt], planned: int, run_id: str = "r1") -> IngestRunSummary:
    return summarise_run(
        attempts,
        dag_id="keepa_ingest",
        run_id=run_id,
        planned_batches=planned,
        planned_at=T0,
        finished_at=T0 + timedelta(minutes=1),
    )


def test_xcom_round_trip() -> None:
    outcome = _outcome("GB", 3, left=97, at=T0)
    data = outcome.to_xcom()
    assert data["token_state_at"] == "2026-11-25T12:00:00Z"
    assert BatchOutcome.from_xcom(data) == outcome
    assert (
        BatchOutcome.from_xcom(_outcome("DE", 1, left=None, at=None).to_xcom()).tokens_left is None
    )


def test_attempt_document_round_trip() -> None:
    failed = _attempt(2, 1, _outcome("DE", 4, left=10, at=T0, published=0), error="E: boom")
    doc = failed.to_document()
    assert doc["status"] == "failed"
    assert doc["error"] == "E: boom"
    assert set(doc) <= set(INGEST_ATTEMPTS_MAPPING["properties"])
    back = BatchAttempt.from_document(doc)
    assert back.key == failed.key
    assert back.error == "E: boom"
    assert back.outcome == BatchOutcome.from_xcom({**failed.outcome.to_xcom(), "partitions": {}})
    ok = _attempt(0, 1, _outcome("DE", 4, left=10, at=T0))
    assert BatchAttempt.from_document(ok.to_document()).succeeded
    assert len(_attempt(0, 1, ok.outcome, error="x" * 5000).error or "") == 2000


def test_summary_totals_per_market_and_latest_balance() -> None:
    attempts = [
        _attempt(0, 1, _outcome("DE", 100, left=120, at=T0)),
        _attempt(1, 1, _outcome("DE", 20, left=70, at=T0 + timedelta(seconds=9))),
        _attempt(2, 1, _outcome("FR", 2, left=None, at=None)),
        _attempt(3, 1, _outcome("GB", 3, left=90, at=T0 + timedelta(seconds=5))),
    ]
    summary = _summary(attempts, planned=4)
    assert (summary.batches, summary.failed_batches, summary.attempts) == (4, 0, 4)
    assert (summary.envelopes_published, summary.tokens_consumed) == (125, 125)
    assert summary.tokens_left == 70  # Keepa's newest state, not the last to arrive
    assert [(m.market, m.batches, m.tokens_consumed) for m in summary.markets] == [
        ("DE", 2, 120),
        ("FR", 1, 2),
        ("GB", 1, 3),
    ]
    assert "tokens consumed 125, left 70 (refill 20/min)" in summary.describe()
    assert summary.to_document()["planned_at"] == "2026-11-25T12:00:00Z"


def test_every_token_of_every_try_is_counted() -> None:
    """Batch 0 fetched (5 tokens) and failed to publish, then succeeded on its retry (5 more);
    batch 1 failed on every try; batch 2 never ran. 12 ASIN fetches succeeded, 22 were paid."""
    attempts = [
        _attempt(0, 1, _outcome("DE", 5, left=50, at=T0, published=0), error="PublishError"),
        _attempt(0, 2, _outcome("DE", 5, left=45, at=T0 + timedelta(seconds=40)), seconds=40),
        _attempt(1, 1, _outcome("GB", 6, left=39, at=T0, published=2), error="KeepaError"),
        _attempt(1, 2, _outcome("GB", 6, left=33, at=T0, published=0), error="KeepaError"),
        _attempt(0, 1, _outcome("DE", 7, left=1, at=T0), run_id="another run"),
    ]
    summary = _summary(attempts, planned=3)
    assert summary.batches == 3
    assert summary.failed_batches == 2  # batch 1 (last try failed) and batch 2 (never ran)
    assert summary.attempts == 4
    assert summary.tokens_consumed == 5 + 5 + 6 + 6
    # Counts of each batch's last try: batch 0 published 5, batch 1's last try 0.
    assert (summary.asins_requested, summary.envelopes_published) == (11, 5)
    assert summary.tokens_left == 45  # the newest of Keepa's timestamps
    de, gb = summary.markets
    assert (de.market, de.batches, de.failed_batches, de.attempts, de.tokens_consumed) == (
        "DE",
        1,
        0,
        2,
        10,
    )
    assert (gb.market, gb.batches, gb.failed_batches, gb.attempts, gb.tokens_consumed) == (
        "GB",
        1,
        1,
        2,
        12,
    )
    assert "3 batches, 2 failed (4 attempts); tokens consumed 22" in summary.describe()


def test_empty_run() -> None:
    summary = _summary([], planned=0)
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
    summary = _summary([_attempt(0, 1, _outcome("DE", 5, left=95, at=T0))], planned=1)
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


@pytest.mark.integration
def test_attempts_ledger_round_trip(isolated: Settings, es: Elasticsearch) -> None:
    settings = isolated
    attempts = [
        _attempt(1, 1, _outcome("GB", 6, left=39, at=T0, published=0), error="KeepaError: x"),
        _attempt(0, 1, _outcome("DE", 5, left=45, at=T0)),
        _attempt(1, 2, _outcome("GB", 6, left=33, at=T0)),
        _attempt(0, 1, _outcome("DE", 5, left=45, at=T0), run_id="r2"),
    ]
    for attempt in attempts:
        assert write_attempt(es, settings, attempt) == attempt.key.document_id
    write_attempt(es, settings, attempts[0])  # the same try written twice: one document
    loaded = load_attempts(es, settings, dag_id="keepa_ingest", run_id="r1")
    assert [(a.key.map_index, a.key.try_number, a.succeeded) for a in loaded] == [
        (0, 1, True),
        (1, 1, False),
        (1, 2, True),
    ]
    assert loaded[1].error == "KeepaError: x"
    assert loaded[1].outcome.tokens_consumed == 6
    mapping = es.indices.get_mapping(index=settings.index(INGEST_ATTEMPTS))
    assert mapping[settings.index(INGEST_ATTEMPTS)]["mappings"]["dynamic"] == "strict"
    assert load_attempts(es, settings, dag_id="keepa_ingest", run_id="nothing") == loaded[:0]


@pytest.mark.integration
def test_an_older_ingest_runs_index_gets_the_new_fields(
    isolated: Settings, es: Elasticsearch
) -> None:
    """An index created before failed batches and attempts were recorded accepts new runs."""
    name = isolated.index(INGEST_RUNS)
    new_fields = {"planned_at", "finished_at", "failed_batches", "attempts"}
    properties = INGEST_RUNS_MAPPING["properties"]
    old = {k: v for k, v in properties.items() if k not in new_fields}
    old["recorded_at"] = {"type": "date"}
    old["markets"] = {
        "type": "nested",
        "dynamic": "strict",
        "properties": {
            k: v for k, v in properties["markets"]["properties"].items() if k not in new_fields
        },
    }
    es.indices.create(index=name, mappings={"dynamic": "strict", "properties": old})
    summary = _summary([_attempt(0, 1, _outcome("DE", 5, left=95, at=T0))], planned=1)
    write_run(es, isolated, summary)
    es.indices.refresh(index=name)
    (hit,) = es.search(index=name, query={"match_all": {}})["hits"]["hits"]
    assert hit["_source"]["failed_batches"] == 0
    assert hit["_source"]["markets"][0]["attempts"] == 1
