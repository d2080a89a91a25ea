"""`arbitrage bench`: worker throughput, event-to-opportunity latency and Elasticsearch sink
rate, on the real local stack, against the raw aiokafka consume rate of the same topic
(the ceiling), all measured in the same run. Prints one JSON line.

Phases (each on its own prefixed topics and indices, so nothing else is disturbed):

1. backlog: ``events`` synthetic Keepa envelopes (the sample generator) are produced to
   ``keepa.products``;
2. ceiling: a plain aiokafka consumer reads the whole topic (no processing);
3. throughput: a worker is started on the backlog; events/s from its first to its last
   processed event, and the sink's indexed docs/s over the same kind of window;
4. latency: envelopes that each complete a profitable route are produced at a steady rate;
   the latency of each is the time from its send to the ``opened`` event arriving on
   ``arbitrage.opportunities``.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.contracts.keepa_products import (
    ENVELOPE,
    KeepaProductsEnvelope,
    envelope_key,
    make_envelope,
)
from app.contracts.opportunities import OPPORTUNITY
from app.domain.keepa_prices import CSV_LENGTH, PriceType
from app.domain.keepa_time import to_keepa_minutes
from app.domain.markets import Market
from app.ingest.producer import EnvelopePublisher, envelope_record
from app.settings import Settings
from devtools.sample.generator import generate_sample
from devtools.worker_process import WorkerProcess


def _route_completing_pair(
    asin: str, at: datetime
) -> tuple[KeepaProductsEnvelope, KeepaProductsEnvelope]:
    """A DE buy quote (EUR 20.00) and an FR sell quote (EUR 50.00): a 9.26 EUR opportunity."""
    minute = to_keepa_minutes(at)

    def product(market: Market, price_type: PriceType, price: int) -> dict[str, Any]:
        csv: list[list[int] | None] = [None] * CSV_LENGTH
        current = [-1] * CSV_LENGTH
        csv[price_type] = [minute, price, 0] if price_type.has_shipping else [minute, price]
        current[price_type] = price
        return {
            "asin": asin, "domainId": market.keepa_domain_id,
            "title": f"[SYNTHETIC] bench {asin}",
            "csv": csv, "stats": {"current": current}, "lastUpdate": minute,
            "packageWeight": 500, "fbaFees": {"pickAndPackFee": 300},
            "referralFeePercentage": 15.0,
        }  # fmt: skip

    return (
        make_envelope("DE", product(Market.DE, PriceType.AMAZON, 2000), at),
        make_envelope("FR", product(Market.FR, PriceType.BUY_BOX_SHIPPING, 5000), at),
    )


async def _create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, envelopes: Iterator[KeepaProductsEnvelope]) -> int:
    async with EnvelopePublisher(bootstrap, topic) as publisher:
        report = await publisher.publish(envelopes)
    return report.sent


async def _ceiling(bootstrap: str, topic: str, expected: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-ceiling-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    await consumer.start()
    try:
        seen = 0
        started: float | None = None
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            if batch and started is None:
                started = time.perf_counter()
            for messages in batch.values():
                for message in messages:
                    ENVELOPE.decode(message.value or b"")  # the worker decodes too
                seen += sum(len(m) for m in batch.values())
        assert started is not None
        return expected / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def _rate_window(worker: WorkerProcess, counter: str, target: int, timeout_s: float) -> float:
    first: float | None = None
    deadline = time.monotonic() + timeout_s
    value = 0
    while time.monotonic() < deadline:
        value = worker.counter(counter)
        now = time.perf_counter()
        if value > 0 and first is None:
            first = now
            first_value = value
        if value >= target and first is not None:
            return (value - first_value) / max(now - first, 1e-9)
        time.sleep(0.1)
    raise RuntimeError(f"{counter} reached only {value}/{target} in {timeout_s}s")


async def _latency(
    bootstrap: str, settings: Settings, rate: float, count: int
) -> tuple[list[float], int]:
    consumer = AIOKafkaConsumer(
        settings.topic("arbitrage.opportunities"),
        bootstrap_servers=bootstrap,
        group_id=f"bench-latency-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="latest",
    )
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    topic = settings.topic("keepa.products")
    base = datetime.now(UTC).replace(microsecond=0)
    # The FR halves complete the route; the DE halves go first, unmeasured.
    pairs = [_route_completing_pair(f"B0L{i:07d}", base) for i in range(count)]
    for de, _ in pairs:
        key, value = envelope_record(de)
        await producer.send(topic, value, key=key)
    await producer.flush()
    await asyncio.sleep(2)

    async def receive() -> None:
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=500)
            now = time.perf_counter()
            for messages in batch.values():
                for m in messages:
                    event = OPPORTUNITY.decode(m.value or b"")
                    if event.event == "opened" and event.asin in sent_at:
                        latencies.append(now - sent_at.pop(event.asin))

    receiver = asyncio.create_task(receive())
    interval = 1.0 / rate
    start = time.perf_counter()
    for i, (_, fr) in enumerate(pairs):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        key, value = envelope_record(fr)
        sent_at[envelope_key(fr) or ""] = time.perf_counter()
        await producer.send(topic, value, key=key)
    with contextlib.suppress(TimeoutError):  # missing events are reported, not fatal
        await asyncio.wait_for(receiver, timeout=60)
    await producer.stop()
    await consumer.stop()
    return latencies, len(sent_at)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_benchmark(
    settings: Settings, *, asins: int, steps: int, latency_rate: float, latency_events: int
) -> dict[str, Any]:
    name = f"bench{uuid.uuid4().hex[:6]}"
    workdir = settings.stack_dir / "bench" / name
    worker = WorkerProcess(name, workdir / "data", workdir / "worker.log", settings)
    s = worker.settings
    bootstrap = s.kafka_bootstrap_servers
    topic = s.topic("keepa.products")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    asyncio.run(_create_topic(bootstrap, topic, s.topic_partitions))
    # generated first: the producer's rate is the publisher's, not the sample generator's
    sample = list(generate_sample(asins, seed=7, start=start, steps=steps, step_minutes=15))
    t = time.perf_counter()
    events = asyncio.run(_produce(bootstrap, topic, iter(sample)))
    produce_rate = events / (time.perf_counter() - t)
    ceiling = asyncio.run(_ceiling(bootstrap, topic, events))
    worker.start(timeout_s=180)
    try:
        throughput = _rate_window(worker, "keepa_events", events, timeout_s=900)
        sink_rate = _rate_window(worker, "es_products_indexed", 2 * events, timeout_s=900)
        latencies, lost = asyncio.run(_latency(bootstrap, s, latency_rate, latency_events))
        stats = worker.stats() or {}
    finally:
        worker.stop()
    return {
        "bench": "worker",
        "machine": f"{platform.machine()} {platform.node()}",
        "partitions": s.topic_partitions,
        "events": events,
        "producer_events_per_s": round(produce_rate, 1),
        "ceiling_aiokafka_consume_per_s": round(ceiling, 1),
        "worker_events_per_s": round(throughput, 1),
        "throughput_over_ceiling": round(throughput / ceiling, 4),
        "es_sink_docs_per_s": round(sink_rate, 1),
        "latency_rate_per_s": latency_rate,
        "latency_samples": len(latencies),
        "latency_missing": lost,
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_p99_ms": round(1000 * _percentile(latencies, 0.99), 1) if latencies else None,
        "dlq": stats.get("counters", {}).get("dlq", 0),
        "opportunities_opened": stats.get("counters", {}).get("opportunities_opened", 0),
        "log": str(Path(worker.log_path)),
    }
