"""The backtest on a seeded sample gives the same counts as reading the opportunities index after
a replay of the same file into a normally started worker (issue 12).

Two isolated systems on the real stack, one after the other: ``run_backtest`` (its own worker,
topics and indices, deleted afterwards), then a worker started as the tests start one (its sink
writing the ``opportunities`` index under its own prefix) fed the same file by ``replay_file``.
Per market pair, the index's documents (one per route, ``state`` open or closed after the
route's last event) must count as many routes, open and closed, as the backtest's episodes,
and the ``opportunity-episodes`` index (one document per closed opening) as many closed
openings as the backtest's.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from app.backtest.report import build_report
from app.domain.profile import DEFAULT_PROFILE
from app.es.indices import OPPORTUNITIES, OPPORTUNITY_EPISODES
from app.ingest.producer import EnvelopePublisher
from app.ingest.replay import replay_file
from app.settings import Settings
from devtools.backtest import run_backtest
from devtools.isolation import list_topics
from devtools.sample.generator import generate_sample, write_jsonl
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import started_worker
from tests.session_resources import resource_name

pytestmark = pytest.mark.integration

# 40 ASINs x 5 markets, seed 1: 12 spread episodes scripted over 24 steps of 5 min; the file
# holds the first 21 steps (4,200 envelopes), so the episodes running at step 20 (e.g. FR:DE
# of B05XW5JEV3, from step 19.2 to 22) are still open at its end. It ends now, so the reference
# worker's wall-clock sweep (24 h) closes nothing.
ASINS, SEED, STEPS, STEP_MINUTES, WRITTEN_STEPS = 40, 1, 24, 5, 21


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.jsonl"
    start = datetime.now(UTC) - timedelta(minutes=(WRITTEN_STEPS - 1) * STEP_MINUTES)
    envelopes = generate_sample(
        ASINS, seed=SEED, start=start, steps=STEPS, step_minutes=STEP_MINUTES
    )
    write_jsonl(itertools.islice(envelopes, ASINS * 5 * WRITTEN_STEPS), path)
    return path


def index_counts(es: Elasticsearch, index: str) -> dict[str, tuple[int, int, int]]:
    """``{pair: (routes, open, closed)}`` of the opportunity documents."""
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=10_000, source_includes=["route", "state"])["hits"]["hits"]
    states = Counter((h["_source"]["route"], h["_source"]["state"]) for h in hits)
    pairs = {route for route, _ in states}
    return {
        p: (states[p, "open"] + states[p, "closed"], states[p, "open"], states[p, "closed"])
        for p in pairs
    }


def episode_counts(es: Elasticsearch, index: str) -> dict[str, int]:
    """``{pair: closed openings}`` of the episode documents."""
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=10_000, source_includes=["route"])["hits"]["hits"]
    return dict(Counter(h["_source"]["route"] for h in hits))


async def replay(path: Path, settings: Settings) -> int:
    async with EnvelopePublisher(
        settings.kafka_bootstrap_servers, settings.topic("keepa.products")
    ) as publisher:
        summary = await replay_file(path, publisher)
    return summary.published


def test_backtest_counts_equal_the_opportunities_index_after_a_replay(
    sample: Path, settings: Settings, es: Elasticsearch, tmp_path: Path
) -> None:
    name = resource_name("backtest")
    run = run_backtest(settings, sample, DEFAULT_PROFILE, timeout_s=600, name=name)
    assert run.published == ASINS * 5 * WRITTEN_STEPS
    report = build_report(run.events, until=run.until)
    backtest = {
        g.name: (g.routes, g.lifetimes.still_open, g.routes_closed_at_end) for g in report.pairs
    }
    assert report.unmatched == 0
    # Not a comparison of nothing: routes of both kinds at the end.
    assert sum(still_open for _, still_open, _ in backtest.values()) > 0
    assert sum(closed for _, _, closed in backtest.values()) > 0
    # The run deleted what it created.
    left = asyncio.run(list_topics(settings.kafka_bootstrap_servers))
    assert not [t for t in left if t.startswith((f"{name}.", f"arbitrage-{name}-"))]
    assert not es.indices.get(index=f"{name}-*", allow_no_indices=True)
    assert not run.workdir.exists()

    with started_worker("btref", tmp_path / "ref", settings, es) as worker:
        assert asyncio.run(replay(sample, worker.settings)) == run.published
        asyncio.run(wait_worker_drained(worker, timeout_s=600))
        assert index_counts(es, worker.settings.index(OPPORTUNITIES)) == backtest
        closed_openings = {g.name: g.lifetimes.closed for g in report.pairs if g.lifetimes.closed}
        assert closed_openings  # openings closed before the end: compared below
        assert episode_counts(es, worker.settings.index(OPPORTUNITY_EPISODES)) == closed_openings
