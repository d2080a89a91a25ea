"""`arbitrage bench`: the worker's throughput, latency, sink rate, memory and recovery time on
the real local stack, each next to baselines measured in the same run (the same machine, load
and broker), so every worker figure can be read as a ratio. Prints one JSON line on stdout and
a table on stderr; docs/performance.md says what each figure means.

Phases, one after the other (never concurrently: the machine is small), each on its own
prefixed topics, indices and consumer groups (:mod:`devtools.isolation`):

1. replay: ``events`` synthetic Keepa envelopes (the sample generator) are produced to
   ``keepa.products`` by the :class:`~app.ingest.producer.EnvelopePublisher`;
2. ceiling: a plain aiokafka consumer reads (and decodes) the whole topic;
3. Faust baselines (:mod:`devtools.bench_baselines`): a no-op Faust agent, then a one-table
   Faust agent, over the same topic;
4. throughput: a worker is started on the backlog; events/s from its first to its last
   processed event, then the sink's indexed docs/s over the same kind of window;
5. latency, at each rate asked for (50 and 500 events/s by default): envelopes that each
   complete a profitable route are produced at a steady rate; the latency of each is the time
   from its send to the ``opened`` event arriving on ``arbitrage.opportunities``;
6. two workers of one consumer group over a copy of the backlog;
7. recovery: one envelope per ASIN for ``recovery_asins`` ASINs, processed by a worker (its
   peak RSS); then kill -9, its data directory wiped, one new envelope, restart: the time
   from the restart to that envelope processed (the tables rebuilt from their changelogs).
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from elasticsearch import Elasticsearch

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
from devtools.bench_baselines import BaselineResult, run_baseline
from devtools.isolation import Isolated, delete_indices, delete_topics
from devtools.kafka_offsets import consumer_lag
from devtools.sample.generator import generate_sample
from devtools.worker_process import WorkerProcess

#: How often a worker's counters are read while a window is timed.
POLL_S = 0.1
#: How often the restarted worker's counter is read in the recovery phase.
RECOVERY_POLL_S = 0.02


def bench_product(asin: str, market: Market, price_type: PriceType, price: int, minute: int) -> Any:
    """A Keepa product of the bench: one price of ``price_type`` at ``minute`` (Keepa
    minutes) on ``market``; also used by bench/notification_latency.py."""
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


def _route_completing_pair(
    asin: str, at: datetime
) -> tuple[KeepaProductsEnvelope, KeepaProductsEnvelope]:
    """A DE buy quote (EUR 20.00) and an FR sell quote (EUR 50.00): a 9.26 EUR opportunity."""
    minute = to_keepa_minutes(at)
    return (
        make_envelope("DE", bench_product(asin, Market.DE, PriceType.AMAZON, 2000, minute), at),
        make_envelope(
            "FR", bench_product(asin, Market.FR, PriceType.BUY_BOX_SHIPPING, 5000, minute), at
        ),
    )


def recovery_asin(i: int) -> str:
    """The ``i``-th synthetic ASIN of the recovery phase."""
    return f"B0R{i:07d}"


def _one_envelope_per_asin(asins: Iterable[str], at: datetime) -> Iterator[KeepaProductsEnvelope]:
    minute = to_keepa_minutes(at)
    for asin in asins:
        yield make_envelope(
            "DE", bench_product(asin, Market.DE, PriceType.AMAZON, 2000, minute), at
        )


# --- pure helpers --------------------------------------------------------------------------


def window_rate(first_count: int, first_t: float, last_count: int, last_t: float) -> float:
    """Events/s between two readings of a counter: what was counted after the first reading,
    over the time between the two."""
    if last_t <= first_t or last_count < first_count:
        raise ValueError(f"not a window: ({first_count}, {first_t}) -> ({last_count}, {last_t})")
    return (last_count - first_count) / (last_t - first_t)


def baseline_rate(result: BaselineResult) -> float:
    """Events/s of a Faust baseline from its first to its last event (``count - 1`` events
    after the first one)."""
    return window_rate(1, result.first, result.count, result.last)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (``0 <= q <= 1``) of a non-empty sample."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 1:
        raise ValueError(f"q must be within [0, 1]: {q}")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def per_100k(grown_mb: float, asins: int) -> float | None:
    return None if asins <= 0 else round(grown_mb * 100_000 / asins, 1)


#: The rows of the human table: (JSON key, label, unit).
TABLE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("events", "backlog", "events"),
    ("replay_envelopes_per_s", "replay (EnvelopePublisher)", "envelopes/s"),
    ("ceiling_aiokafka_consume_per_s", "ceiling: raw aiokafka consume", "events/s"),
    ("noop_faust_events_per_s", "no-op Faust agent", "events/s"),
    ("one_table_faust_events_per_s", "one-table Faust agent", "events/s"),
    ("worker_events_per_s", "worker", "events/s"),
    ("worker_over_noop", "worker / no-op Faust", "ratio"),
    ("worker_over_one_table", "worker / one-table Faust", "ratio"),
    ("throughput_over_ceiling", "worker / ceiling", "ratio"),
    ("two_workers_events_per_s", "2 workers, one group", "events/s"),
    ("es_sink_docs_per_s", "ES sink", "docs/s"),
    ("latency_rates", "", ""),  # one row per figure of each latency run, in order
    ("peak_rss_mb", "worker peak RSS (throughput)", "MB"),
    ("recovery_asins", "recovery ASINs", "ASINs"),
    ("recovery_peak_rss_mb", "worker peak RSS (recovery)", "MB"),
    ("peak_rss_mb_per_100k_asins", "RSS growth per 100k ASINs", "MB"),
    ("recovery_s", "recovery: restart to 1st event", "s"),
    ("recovery_assigned_s", "recovery: restart to partitions", "s"),
)


def _table_rows(result: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    for key, label, unit in TABLE_ROWS:
        if key == "latency_rates":
            for rate in result.get("latency_rates", ()):
                tag = f"latency_{rate:g}"
                yield f"{tag}_p50_ms", f"latency at {rate:g}/s, p50", "ms"
                yield f"{tag}_p99_ms", f"latency at {rate:g}/s, p99", "ms"
                yield f"{tag}_missing", f"latency at {rate:g}/s, missing", "events"
        else:
            yield key, label, unit


def format_table(result: dict[str, Any]) -> str:
    """The figures of ``result`` as an aligned text table (rows whose key is absent are left
    out; ``None`` shows as ``-``)."""
    rows = [
        (label, "-" if result[key] is None else f"{result[key]:,}", unit)
        for key, label, unit in _table_rows(result)
        if key in result
    ]
    if not rows:
        return ""
    width = max(len(label) for label, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    return "\n".join(
        f"{label:<{width}}  {value:>{value_width}}  {unit}" for label, value, unit in rows
    )


# --- Kafka helpers -------------------------------------------------------------------------


async def _create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, envelopes: Iterable[KeepaProductsEnvelope]) -> int:
    async with EnvelopePublisher(bootstrap, topic) as publisher:
        report = await publisher.publish(envelopes)
    return report.sent


def _wait_committed(bootstrap: str, group: str, topic: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while left := sum(asyncio.run(consumer_lag(bootstrap, group, [topic])).values()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{group} left {left} records of {topic} uncommitted")
        time.sleep(0.5)


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


# --- worker phases -------------------------------------------------------------------------


@dataclass
class _Counters:
    """The sum of one counter over workers, each at its last value read (a stats request that
    fails keeps the previous value instead of reading as 0)."""

    workers: Sequence[WorkerProcess]
    name: str
    last: dict[int, int] = field(default_factory=dict)

    def read(self) -> int:
        for i, worker in enumerate(self.workers):
            stats = worker.stats()
            if stats is not None:
                self.last[i] = int(stats.get("counters", {}).get(self.name, 0))
        return sum(self.last.values())


def _rate_window(read: Callable[[], int], target: int, timeout_s: float) -> float:
    """Events/s of a counter from its first non-zero reading to the reading where it reaches
    ``target``, read every :data:`POLL_S`."""
    first: tuple[int, float] | None = None
    deadline = time.monotonic() + timeout_s
    value = 0
    while time.monotonic() < deadline:
        value = read()
        now = time.perf_counter()
        if value > 0 and first is None:
            first = (value, now)
        if value >= target and first is not None:
            return window_rate(first[0], first[1], value, now)
        time.sleep(POLL_S)
    raise RuntimeError(f"counter reached only {value}/{target} in {timeout_s}s")


async def _latency(
    bootstrap: str,
    settings: Settings,
    rate: float,
    count: int,
    asin_prefix: str,
    processed: Callable[[], int],
) -> tuple[list[float], int]:
    """Latencies of ``count`` route-completing events sent at ``rate``, and how many never
    came back. ``processed`` reads the worker's count of processed input events: the unmeasured
    first halves are waited for, so the measured ones do not queue behind them."""
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
    pairs = [_route_completing_pair(f"{asin_prefix}{i:07d}", base) for i in range(count)]
    before = processed()
    for de, _ in pairs:
        key, value = envelope_record(de)
        await producer.send(topic, value, key=key)
    await producer.flush()
    deadline = time.monotonic() + 600
    while processed() < before + count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not process the {count} first halves")
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)

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


def _latency_figures(
    worker: WorkerProcess, rate: float, seconds: float, asin_prefix: str
) -> dict[str, Any]:
    count = max(1, round(rate * seconds))
    s = worker.settings
    processed = _Counters([worker], "keepa_events").read
    latencies, missing = asyncio.run(
        _latency(s.kafka_bootstrap_servers, s, rate, count, asin_prefix, processed)
    )
    tag = f"latency_{rate:g}"
    return {
        f"{tag}_events": count,
        f"{tag}_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        f"{tag}_p99_ms": round(1000 * percentile(latencies, 0.99), 1) if latencies else None,
        f"{tag}_missing": missing,
    }


def _latency_prefix(i: int) -> str:
    """The first three characters of the ASINs of the ``i``-th latency run (distinct per run:
    a route opened by one run would not open again in the next)."""
    return f"B0{'LMNPQTUVWXYZ'[i % 12]}"


def _two_workers(
    settings: Settings, name: str, workdir: Path, sample: Callable[[], Iterable[Any]], events: int
) -> dict[str, Any]:
    """Two workers of one consumer group (their own topics), started on an empty topic and
    fed the backlog once both hold partitions of it; the group's events/s from the end of the
    production to its last processed event."""
    workers = [
        WorkerProcess(
            name,
            workdir / f"data{i}",
            workdir / f"worker{i}.log",
            settings,
            partitions=settings.topic_partitions,
        )
        for i in (1, 2)
    ]
    s = workers[0].settings
    topic = s.topic("keepa.products")
    asyncio.run(_create_topic(s.kafka_bootstrap_servers, topic, s.topic_partitions))
    try:
        for worker in workers:
            worker.start(timeout_s=180)
        _wait_split(workers, topic, s.topic_partitions, timeout_s=120)
        counters = _Counters(workers, "keepa_events")
        envelopes = list(sample())
        asyncio.run(_produce(s.kafka_bootstrap_servers, topic, envelopes))
        # The window starts once the backlog is in (what was processed meanwhile is not in
        # it): the producer does not compete with the workers for the two cores.
        if counters.read() >= events:
            raise RuntimeError("the two workers were done before the backlog was produced")
        rate = _rate_window(counters.read, events, timeout_s=900)
        shares = [counters.last.get(i, 0) for i in range(len(workers))]
    finally:
        for worker in workers:
            worker.stop()
    return {"two_workers_events_per_s": round(rate, 1), "two_workers_events_each": shares}


def _wait_split(
    workers: Sequence[WorkerProcess], topic: str, partitions: int, timeout_s: float
) -> None:
    """Wait until the workers hold disjoint, non-empty shares of all partitions of ``topic``."""
    deadline = time.monotonic() + timeout_s
    shares: list[set[str]] = []
    while time.monotonic() < deadline:
        shares = [
            {
                p
                for p in (w.stats() or {}).get("assigned_partitions", [])
                if p.startswith(topic + ":")
            }
            for w in workers
        ]
        union = set().union(*shares)
        if all(shares) and len(union) == partitions and sum(map(len, shares)) == partitions:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the workers did not split {topic} in {timeout_s}s: {shares}")


def _recovery(settings: Settings, name: str, workdir: Path, asins: int) -> dict[str, Any]:
    """Peak RSS of a worker holding ``asins`` ASINs; time from its restart, after a kill -9
    and the loss of its data directory, to its first processed event."""
    data = workdir / "data"
    worker = WorkerProcess(
        name, data, workdir / "worker.log", settings, partitions=settings.topic_partitions
    )
    s = worker.settings
    bootstrap, topic = s.kafka_bootstrap_servers, s.topic("keepa.products")
    at = datetime.now(UTC).replace(microsecond=0)
    asyncio.run(_create_topic(bootstrap, topic, s.topic_partitions))
    try:
        worker.start(timeout_s=180)
        idle_rss, _ = worker.memory_mb()
        asyncio.run(
            _produce(bootstrap, topic, _one_envelope_per_asin(map(recovery_asin, range(asins)), at))
        )
        deadline = time.monotonic() + 1800
        while (seen := worker.counter("keepa_events")) < asins:
            if time.monotonic() > deadline or not worker.alive():
                raise RuntimeError(f"recovery worker processed {seen}/{asins}: {worker.tail()}")
            time.sleep(0.5)
        _, peak_rss = worker.memory_mb()
        # Everything committed: the restarted worker has exactly one event to process.
        _wait_committed(bootstrap, s.faust_app_id, topic, timeout_s=120)
        worker.kill9()
        shutil.rmtree(data)
        asyncio.run(_produce(bootstrap, topic, _one_envelope_per_asin(["B0RNEW0001"], at)))
        restarted = time.perf_counter()
        worker.start(timeout_s=1800, poll_s=RECOVERY_POLL_S)
        assigned_s = time.perf_counter() - restarted
        while worker.counter("keepa_events") < 1:
            if time.perf_counter() - restarted > 1800 or not worker.alive():
                raise RuntimeError(f"the restarted worker processed nothing: {worker.tail()}")
            time.sleep(RECOVERY_POLL_S)
        recovery_s = time.perf_counter() - restarted
    finally:
        worker.stop()
    return {
        "recovery_asins": asins,
        "recovery_idle_rss_mb": round(idle_rss, 1),
        "recovery_peak_rss_mb": round(peak_rss, 1),
        "peak_rss_mb_per_100k_asins": per_100k(peak_rss - idle_rss, asins),
        "recovery_s": round(recovery_s, 2),
        "recovery_assigned_s": round(assigned_s, 2),
    }


def _phase(label: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {label}", file=sys.stderr, flush=True)


def run_benchmark(
    settings: Settings,
    *,
    asins: int,
    steps: int,
    latency_rates: Sequence[float],
    latency_seconds: float,
    recovery_asins: int,
    keep: bool = False,
) -> dict[str, Any]:
    """Every phase (module docstring) on topics and indices of its own, deleted at the end
    (also after a failure) unless ``keep``; the worker logs stay in the run's directory."""
    name = f"bench{uuid.uuid4().hex[:6]}"
    try:
        return _run_benchmark(
            settings,
            name,
            asins=asins,
            steps=steps,
            latency_rates=latency_rates,
            latency_seconds=latency_seconds,
            recovery_asins=recovery_asins,
        )
    finally:
        if not keep:
            _phase("deleting the run's topics and indices")
            _delete_run(settings, name)


def _delete_run(settings: Settings, name: str) -> None:
    """Delete what every phase of the run ``name`` created: its topics (``name*``: the
    worker's, the two-worker and recovery phases' ``{name}g``/``{name}r``), Faust's internal
    topics (``arbitrage-{name}*``), its indices, and the workers' RocksDB directories."""
    owned = Isolated((name, f"arbitrage-{name}"), (name,))
    asyncio.run(delete_topics(settings.kafka_bootstrap_servers, owned, timeout_s=120))
    with Elasticsearch(settings.elasticsearch_url) as es:
        delete_indices(es, owned)
    for data in (settings.stack_dir / "bench" / name).glob("**/data"):
        shutil.rmtree(data, ignore_errors=True)


def _run_benchmark(
    settings: Settings,
    name: str,
    *,
    asins: int,
    steps: int,
    latency_rates: Sequence[float],
    latency_seconds: float,
    recovery_asins: int,
) -> dict[str, Any]:
    workdir = settings.stack_dir / "bench" / name
    worker = WorkerProcess(
        name,
        workdir / "data",
        workdir / "worker.log",
        settings,
        partitions=settings.topic_partitions,
    )
    s = worker.settings
    bootstrap = s.kafka_bootstrap_servers
    topic = s.topic("keepa.products")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)

    def sample() -> Iterator[KeepaProductsEnvelope]:
        return generate_sample(asins, seed=7, start=start, steps=steps, step_minutes=15)

    result: dict[str, Any] = {
        "bench": "worker",
        "machine": f"{platform.machine()} {platform.node()}",
        "partitions": s.topic_partitions,
        "workdir": str(workdir),
    }
    _phase("replay")
    asyncio.run(_create_topic(bootstrap, topic, s.topic_partitions))
    envelopes = list(sample())  # generated before the clock starts: the producer is timed
    t = time.perf_counter()
    events = asyncio.run(_produce(bootstrap, topic, envelopes))
    result["events"] = events
    result["replay_envelopes_per_s"] = round(events / (time.perf_counter() - t), 1)
    del envelopes

    _phase("ceiling")
    ceiling = asyncio.run(_ceiling(bootstrap, topic, events))
    result["ceiling_aiokafka_consume_per_s"] = round(ceiling, 1)

    for mode, key in (
        ("noop", "noop_faust_events_per_s"),
        ("table", "one_table_faust_events_per_s"),
    ):
        _phase(f"faust baseline {mode}")
        baseline = run_baseline(
            mode,
            app_id=f"{s.faust_app_id}-{mode}",
            workdir=workdir / f"baseline-{mode}",
            bootstrap=bootstrap,
            topic=topic,
            partitions=s.topic_partitions,
            expected=events,
        )
        result[key] = round(baseline_rate(baseline), 1)

    _phase("worker throughput, sink, latency")
    worker.start(timeout_s=180)
    try:
        one = _Counters([worker], "keepa_events")
        throughput = _rate_window(one.read, events, timeout_s=900)
        sink = _Counters([worker], "es_products_indexed")
        sink_rate = _rate_window(sink.read, 2 * events, timeout_s=900)
        latency: dict[str, Any] = {}
        for i, rate in enumerate(latency_rates):
            _phase(f"latency at {rate:g}/s")
            latency.update(_latency_figures(worker, rate, latency_seconds, _latency_prefix(i)))
        _, peak_rss = worker.memory_mb()
        stats = worker.stats() or {}
    finally:
        worker.stop()
    result.update(
        {
            "worker_events_per_s": round(throughput, 1),
            "worker_over_noop": ratio(throughput, result["noop_faust_events_per_s"]),
            "worker_over_one_table": ratio(throughput, result["one_table_faust_events_per_s"]),
            "throughput_over_ceiling": ratio(throughput, ceiling),
            "es_sink_docs_per_s": round(sink_rate, 1),
            "latency_rates": list(latency_rates),
            "latency_seconds": latency_seconds,
            **latency,
            "peak_rss_mb": round(peak_rss, 1),
            "dlq": stats.get("counters", {}).get("dlq", 0),
            "opportunities_opened": stats.get("counters", {}).get("opportunities_opened", 0),
        }
    )

    _phase("two workers, one group")
    result.update(_two_workers(settings, f"{name}g", workdir / "group", sample, events))

    if recovery_asins > 0:
        _phase(f"recovery, {recovery_asins} ASINs")
        result.update(_recovery(settings, f"{name}r", workdir / "recovery", recovery_asins))
    _phase("done")
    return result
