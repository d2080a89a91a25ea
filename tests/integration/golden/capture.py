"""The golden run of the worker: a fixed synthetic sample through a worker process, and
what came out of it, in a form that two workers can be compared by.

``python -m tests.integration.golden.capture OUT.json`` writes it (on the local stack,
``STACK_DIR``); ``tests/integration/test_golden_worker.py`` runs the same sample through the
current worker and compares it with ``worker_golden.json``, captured with the worker of commit
268f252 (before the throughput work of issue 10).

What is compared: every opportunity event, per ASIN in the order it was emitted (everything
in the message: ids, figures, times, breakdown), and every Elasticsearch document of the
opportunities, products and price-history indices by id, without ``indexed_at`` (the sink's
wall-clock time).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from app.ingest.producer import EnvelopePublisher
from app.settings import Settings, get_settings
from devtools.sample.generator import generate_sample
from devtools.worker_process import WorkerProcess

#: The sample: 60 ASINs x 5 markets x 10 steps of 15 minutes from a fixed past time.
SAMPLE = {"asins": 60, "seed": 11, "steps": 10, "step_minutes": 15}
START = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
#: A worker fed fixed past event times (tests/integration/worker_process.FIXED_TIME_DATA).
WORKER_ENV = {"STALE_AFTER_HOURS": "87600"}
INDICES = ("opportunities", "products", "price-history")
#: Indices kept whole in the golden file; the others as a count and a SHA-256 of their
#: documents (price history: thousands of small documents).
WHOLE = ("opportunities", "products")
WALL_CLOCK_FIELDS = ("indexed_at",)


def sample() -> list[Any]:
    return list(
        generate_sample(
            SAMPLE["asins"],
            seed=SAMPLE["seed"],
            start=START,
            steps=SAMPLE["steps"],
            step_minutes=SAMPLE["step_minutes"],
        )
    )


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.5)


async def _publish(settings: Settings, envelopes: list[Any]) -> None:
    async with EnvelopePublisher(
        settings.kafka_bootstrap_servers, settings.topic("keepa.products")
    ) as publisher:
        await publisher.publish(envelopes)


async def _events(settings: Settings, expected: int) -> list[dict[str, Any]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topic("arbitrage.opportunities"),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + 60
        while len(records) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    records.sort(key=lambda r: (r.partition, r.offset))
    return [orjson.loads(r.value) for r in records]


def digest(documents: dict[str, Any]) -> dict[str, Any]:
    canonical = orjson.dumps(documents, option=orjson.OPT_SORT_KEYS)
    return {"count": len(documents), "sha256": hashlib.sha256(canonical).hexdigest()}


def feed(settings: Settings) -> int:
    """Publish the sample to the worker's ``keepa.products``; how many envelopes."""
    envelopes = sample()
    asyncio.run(_publish(settings, envelopes))
    return len(envelopes)


def wait_until_done(workers: Sequence[WorkerProcess], envelopes: int) -> int:
    """Wait until ``workers`` (one group) have processed and indexed everything; how many
    opportunity events they emitted (more than once for a key that changed hands)."""

    def total(counter: str) -> int:
        return sum(w.counter(counter) for w in workers)

    def sunk(kind: str) -> int:
        return total(f"es_{kind}_indexed") + total(f"es_{kind}_stale")

    _wait(lambda: total("keepa_events") >= envelopes, 600, f"{envelopes} events processed")
    kinds = ("opportunities_opened", "opportunities_updated", "opportunities_closed")
    emitted = sum(total(kind) for kind in kinds)
    _wait(lambda: sunk("products") >= 2 * envelopes, 600, "products and price history indexed")
    _wait(lambda: sunk("opportunities") >= emitted, 600, "opportunities indexed")
    return emitted


def collect(settings: Settings, es: Elasticsearch, emitted: int) -> dict[str, Any]:
    """The opportunity events (per ASIN, in order; an event emitted again after a key changed
    hands counted once) and the documents, comparable with the golden file."""
    events = asyncio.run(_events(settings, emitted))
    per_asin: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    for event in events:
        if event["event_id"] not in seen:
            seen.add(event["event_id"])
            per_asin.setdefault(event["asin"], []).append(event)
    documents: dict[str, Any] = {}
    for logical in INDICES:
        index = settings.index(logical)
        es.indices.refresh(index=index)
        hits = es.search(index=index, query={"match_all": {}}, size=10_000, sort=["_doc"])
        docs = {}
        for hit in hits["hits"]["hits"]:
            source = {k: v for k, v in hit["_source"].items() if k not in WALL_CLOCK_FIELDS}
            docs[hit["_id"]] = source
        ordered = dict(sorted(docs.items()))
        documents[logical] = ordered if logical in WHOLE else digest(ordered)
    return {
        "sample": {**SAMPLE, "start": START.isoformat(), "envelopes": len(sample())},
        "events": len(seen),
        "events_per_asin": dict(sorted(per_asin.items())),
        "documents": documents,
    }


def run(worker: WorkerProcess, es: Elasticsearch) -> dict[str, Any]:
    """Feed the sample to a started ``worker``; what it emitted and indexed, comparable."""
    envelopes = feed(worker.settings)
    return collect(worker.settings, es, wait_until_done([worker], envelopes))


def main() -> None:
    out = Path(sys.argv[1])
    settings = get_settings()
    es = Elasticsearch(settings.elasticsearch_url)
    with tempfile.TemporaryDirectory() as tmp:
        worker = WorkerProcess(
            f"golden{int(time.time())}", Path(tmp) / "data", Path(tmp) / "worker.log",
            settings, extra_env=WORKER_ENV,
        )  # fmt: skip
        worker.start()
        try:
            result = run(worker, es)
        finally:
            worker.stop()
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    counts = {k: v.get("count", len(v)) for k, v in result["documents"].items()}
    print(f"{out}: {result['events']} events, documents {counts}")


if __name__ == "__main__":
    main()
