"""`arbitrage replay --after-topic` on the real stack: a second replay of the same file (as a
second `make demo` on one stack does) lies wholly after what a first, looped replay left on
``keepa.products``, and a worker counts none of it as out of order - while a second replay
with ``--shift-time`` alone is ignored by the worker, every envelope of it out of order."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from app.contracts.keepa_products import ENVELOPE
from app.ingest.replay import event_time
from app.ingest.topic_reader import read_last, read_to_end
from app.settings import Settings
from devtools.sample.generator import generate_sample, write_jsonl
from devtools.worker_process import ARBITRAGE
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import WorkerProcess, started_worker

# 10 ASINs x 5 markets x 3 steps of 10 min: 150 envelopes spanning 20 min (period 30 min).
ASINS, STEPS, STEP_MINUTES = 10, 3, 10
ENVELOPES = ASINS * 5 * STEPS


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    base = tmp_path_factory.mktemp("replay-after")
    with started_worker("replay-after", base, settings, es) as process:
        yield process


def replay(worker: WorkerProcess, path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [ARBITRAGE, "replay", str(path), *options],
        env=worker.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def event_times(worker: WorkerProcess) -> Counter[tuple[str, datetime]]:
    """(ASIN, event time) of every message on the worker's keepa.products."""
    s = worker.settings
    messages = asyncio.run(
        read_to_end(s.kafka_bootstrap_servers, s.topic("keepa.products"), timeout_s=60)
    )
    found: Counter[tuple[str, datetime]] = Counter()
    for _, value in messages:
        envelope = ENVELOPE.decode(value)
        found[(envelope.product["asin"], event_time(envelope))] += 1
    return found


def test_second_replay_after_topic_is_newer_and_not_out_of_order(
    worker: WorkerProcess, tmp_path: Path
) -> None:
    s = worker.settings
    topic = s.topic("keepa.products")
    path = tmp_path / "sample.jsonl"
    start = datetime.now(UTC) - timedelta(days=3)
    write_jsonl(
        generate_sample(ASINS, seed=11, start=start, steps=STEPS, step_minutes=STEP_MINUTES),
        path,
    )

    # A first run, as the demo's: ends now, and its looped passes run on into the future.
    replay(worker, path, "--shift-time", "--loop", "--passes", "3")
    first = event_times(worker)
    assert sum(first.values()) == 3 * ENVELOPES
    newest_first = max(when for _, when in first)
    assert newest_first > datetime.now(UTC) + timedelta(minutes=50)  # pass 2: +60 min
    last = asyncio.run(read_last(s.kafka_bootstrap_servers, topic, timeout_s=30))
    assert last
    newest_last = max(event_time(ENVELOPE.decode(value)) for _, value in last.values())
    assert newest_last == newest_first
    asyncio.run(wait_worker_drained(worker))
    assert worker.counter("out_of_order_quotes") == 0, worker.stats()

    # The same file again, --after-topic: wholly after the first run, nothing out of order.
    again = replay(worker, path, "--shift-time", "--after-topic")
    assert f"newest event already on the topic: {newest_first.isoformat()}" in again.stdout
    assert f"newest event on {topic}: {newest_first.isoformat()}" in again.stderr
    second = event_times(worker) - first
    assert sum(second.values()) == ENVELOPES
    earliest_second = min(when for _, when in second)
    # one step (10 min) after the first run's newest event, rounded up to the whole minute
    assert newest_first < earliest_second <= newest_first + timedelta(minutes=STEP_MINUTES + 1)
    asyncio.run(wait_worker_drained(worker))
    assert worker.counter("out_of_order_quotes") == 0, worker.stats()
    keepa_events = worker.counter("keepa_events")

    # Control: --shift-time alone places the file at now, behind what the worker holds.
    replay(worker, path, "--shift-time")
    asyncio.run(wait_worker_drained(worker))
    assert worker.counter("keepa_events") == keepa_events + ENVELOPES, worker.stats()
    assert worker.counter("out_of_order_quotes") == ENVELOPES, worker.stats()
