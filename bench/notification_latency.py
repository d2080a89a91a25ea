"""Latency from a Keepa webhook POST to the opportunity readable through the REST API, on the
local stack.

    STACK_DIR=... uv run python bench/notification_latency.py [--asins 500] [--rate 20]

Starts, as a user would and each as a process of its own, on the shared stack but with its own
topic, index and consumer-group prefixes (:mod:`devtools.isolation`): a worker
(``arbitrage worker``, RocksDB tables, :class:`devtools.worker_process.WorkerProcess`), the
webhook receiver (``arbitrage webhook``, :class:`devtools.webhook_process.WebhookProcess`) and
the REST API (``arbitrage api`` with an ``API_TOKEN`` made for the run,
:class:`devtools.demo.ServiceProcess`). Then:

1. seeds ``--asins`` ASINs with Keepa product envelopes, published with the project's
   :class:`~app.ingest.producer.EnvelopePublisher`: DE buys at EUR 20.00 (Amazon), FR sells
   at EUR 30.00 (buy box), below the break-even, so no route opens; waits until the worker
   counted them all (``keepa_events`` of its ``/arbitrage/stats/``) and checks none opened;
2. POSTs one Keepa notification per ASIN to the receiver at ``--rate`` a second (Keepa's JSON
   of tests/unit/keepa/data/notification.json: ``notificationDomainId`` FR, ``csvType`` 18,
   the buy box the worker sells at, now EUR 50.00, above the break-even; ``createDate`` the
   current Keepa minute, later than the seeded quotes), which opens DE -> FR;
3. follows each notification through the stages and records when it reached each, from the
   moment its POST was sent: the receiver's 200 (after Kafka acknowledged it); the ``opened``
   event on ``arbitrage.opportunities`` (read by a consumer of this process); the document in
   the ``opportunities`` index (a realtime ``mget`` by id every ``--es-poll-ms``: it sees a
   document as soon as it is indexed, before any refresh); and the first
   ``GET /opportunities/{asin}`` answering an open route (polled every ``--poll-ms``).

The API is polled for an ASIN only once its document is indexed: a search cannot find a
document that is not indexed yet, so an earlier read could only fail, and polling 500 ASINs
from their POSTs on would put hundreds of requests a second on the machine's two cores. The
end-to-end latency is POST sent -> first successful read; its resolution is the API poll
interval plus one request. Prints one JSON line on stdout and a table on stderr; the run's
topics and indices are deleted at the end (``--keep`` keeps them).

``--refresh-interval 1s`` (an experiment) sets that ``refresh_interval`` on the run's
``opportunities`` index before the POSTs; the project's own is
:func:`app.es.indices.refresh_interval_for` (100 ms for ``opportunities``). The JSON says which
one the run had.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import AsyncElasticsearch
from webhook_latency import NOTIFICATION

from app.contracts.keepa_products import KeepaProductsEnvelope, make_envelope
from app.contracts.opportunities import OPPORTUNITY
from app.domain.keepa_prices import PriceType
from app.domain.keepa_time import to_keepa_minutes
from app.domain.markets import Market
from app.es.indices import OPPORTUNITIES
from app.ingest.producer import EnvelopePublisher
from app.settings import Settings
from devtools.benchmark import bench_product, percentile
from devtools.demo import ServiceProcess, api_healthy
from devtools.isolation import ARBITRAGE, child_env
from devtools.webhook_process import WebhookProcess
from devtools.worker_process import WorkerProcess

#: Seeded prices (minor units): DE buy, FR sell below the break-even, FR sell after the
#: notification (DE 20.00 -> FR 50.00 is a 9.26 EUR route, devtools/benchmark.py).
BUY_DE, SELL_FR_BEFORE, SELL_FR_AFTER = 2000, 3000, 5000
SELL_TYPE = PriceType.BUY_BOX_SHIPPING
ROUTE = "DE:FR"
#: The stages, in order; each is the time from the POST sent to reaching it.
STAGES = ("post_200", "on_topic", "in_es", "api")


def asin_of(i: int) -> str:
    return f"B0N{i:07d}"


def seed_envelopes(asins: list[str], at: datetime) -> list[KeepaProductsEnvelope]:
    minute = to_keepa_minutes(at)
    result = []
    for asin in asins:
        de = bench_product(asin, Market.DE, PriceType.AMAZON, BUY_DE, minute)
        fr = bench_product(asin, Market.FR, SELL_TYPE, SELL_FR_BEFORE, minute)
        result += [make_envelope("DE", de, at), make_envelope("FR", fr, at)]
    return result


def notification_body(asin: str, created: datetime) -> bytes:
    """Keepa's notification for ``asin``: the FR buy box (``csvType`` 18) now at
    :data:`SELL_FR_AFTER`, no other FR offer; tracked from DE."""
    prices = [-1] * len(NOTIFICATION["currentPrices"])
    prices[SELL_TYPE] = SELL_FR_AFTER
    item = dict(
        NOTIFICATION,
        asin=asin,
        domainId=Market.DE.keepa_domain_id,
        notificationDomainId=Market.FR.keepa_domain_id,
        csvType=int(SELL_TYPE),
        createDate=to_keepa_minutes(created),
        currentPrices=prices,
    )
    return json.dumps(item).encode()


@dataclass
class Track:
    """When (``perf_counter``) one notification reached each stage."""

    asin: str
    sent: float | None = None
    post_200: float | None = None
    on_topic: float | None = None
    in_es: float | None = None
    api: float | None = None
    #: How long the successful API request took (its part of the last step).
    api_request: float | None = None

    def after(self, stage: str) -> float | None:
        at: float | None = getattr(self, stage)
        return None if at is None or self.sent is None else at - self.sent


def figures(tracks: list[Track]) -> dict[str, Any]:
    """p50/p90/p99/max (ms) per stage, and how many never reached it."""
    result: dict[str, Any] = {}
    for stage in STAGES:
        values = [v for t in tracks if (v := t.after(stage)) is not None]
        result[stage] = {**_ms(values), "missing": len(tracks) - len(values)}
    return result


def _ms(values: list[float]) -> dict[str, Any]:
    ms = [1000 * v for v in values]
    return {
        "p50_ms": round(percentile(ms, 0.5), 1) if ms else None,
        "p90_ms": round(percentile(ms, 0.9), 1) if ms else None,
        "p99_ms": round(percentile(ms, 0.99), 1) if ms else None,
        "max_ms": round(max(ms), 1) if ms else None,
    }


def step_figures(tracks: list[Track]) -> dict[str, Any]:
    """p50/p90/p99/max (ms) of each step alone: from one stage to the next, per notification
    (those that reached both)."""
    result: dict[str, Any] = {}
    for before, after in zip(("sent", *STAGES), STAGES, strict=False):
        values = [
            b - a
            for t in tracks
            if (a := getattr(t, before)) is not None and (b := getattr(t, after)) is not None
        ]
        result[f"{before}->{after}"] = _ms(values)
    return result


#: The labels of the table's rows: the stages (from the POST sent), then each step alone.
STAGE_LABELS = {
    "post_200": "POST -> 200 (on Kafka)",
    "on_topic": "-> opened on the topic",
    "in_es": "-> document indexed",
    "api": "-> readable via the API",
}
STEP_LABELS = {
    "post_200->on_topic": "step: 200 -> topic",
    "on_topic->in_es": "step: topic -> indexed",
    "in_es->api": "step: indexed -> API",
}


def format_table(result: dict[str, Any]) -> str:
    keys = ("p50_ms", "p90_ms", "p99_ms", "max_ms")
    rows = [f"{'(ms)':<26} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}  missing"]
    for group, labels in (("stages", STAGE_LABELS), ("steps", STEP_LABELS)):
        for key, label in labels.items():
            if key not in result.get(group, {}):
                continue
            f = result[group][key]
            cells = " ".join(f"{'-' if f[k] is None else f[k]:>8}" for k in keys)
            rows.append(f"{label:<26} {cells}  {f.get('missing', '')}")
    if "api_request" in result:
        f = result["api_request"]
        cells = " ".join(f"{'-' if f[k] is None else f[k]:>8}" for k in keys)
        rows.append(f"{'the successful API read':<26} {cells}")
    return "\n".join(rows)


class Follower:
    """Follows the notifications through the stages (see the module's docstring)."""

    def __init__(
        self,
        settings: Settings,
        api_url: str,
        http: aiohttp.ClientSession,
        es: AsyncElasticsearch,
        *,
        poll_s: float,
        es_poll_s: float,
        timeout_s: float,
    ) -> None:
        self.settings = settings
        self.api_url = api_url
        self.http = http
        self.es = es
        self.poll_s = poll_s
        self.es_poll_s = es_poll_s
        self.timeout_s = timeout_s
        self.tracks: dict[str, Track] = {}
        self.indexed: dict[str, asyncio.Event] = {}
        self.api_requests = 0
        self.done = asyncio.Event()

    async def consume(self, consumer: AIOKafkaConsumer) -> None:
        """The ``opened`` events of the run's ASINs, stamped when they arrive."""
        while not self.done.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for messages in batch.values():
                for m in messages:
                    event = OPPORTUNITY.decode(m.value or b"")
                    track = self.tracks.get(event.asin)
                    if track is not None and event.event == "opened" and track.on_topic is None:
                        track.on_topic = now

    async def watch_es(self) -> None:
        """A realtime ``mget`` of the documents not seen yet, every ``es_poll_s``."""
        index = self.settings.index(OPPORTUNITIES)
        while not self.done.is_set():
            waiting = [a for a, t in self.tracks.items() if t.sent is not None and t.in_es is None]
            if waiting:
                ids = [f"{a}:{ROUTE}" for a in waiting]
                response = await self.es.mget(index=index, ids=ids, source=False, realtime=True)
                now = time.perf_counter()
                for asin, doc in zip(waiting, response["docs"], strict=True):
                    if doc.get("found"):
                        self.tracks[asin].in_es = now
                        self.indexed[asin].set()
            await asyncio.sleep(self.es_poll_s)

    async def follow(self, asin: str, url: str, body: bytes) -> None:
        track = self.tracks[asin]
        track.sent = sent = time.perf_counter()
        async with self.http.post(url, data=body) as response:
            text = await response.text()
        if response.status != 200:
            raise RuntimeError(f"the receiver answered {response.status}: {text}")
        track.post_200 = time.perf_counter()
        left = self.timeout_s - (time.perf_counter() - sent)
        try:
            await asyncio.wait_for(self.indexed[asin].wait(), timeout=max(left, 0.01))
        except TimeoutError:
            return
        deadline = sent + self.timeout_s
        while time.perf_counter() < deadline:
            self.api_requests += 1
            asked = time.perf_counter()
            async with self.http.get(f"{self.api_url}/opportunities/{asin}") as response:
                now = time.perf_counter()
                if response.status == 200 and (await response.json())["open_routes"] >= 1:
                    track.api, track.api_request = now, now - asked
                    return
                if response.status not in (200, 404):
                    raise RuntimeError(f"the API answered {response.status}")
            await asyncio.sleep(self.poll_s)


async def drive(
    settings: Settings,
    webhook: WebhookProcess,
    api_url: str,
    asins: list[str],
    rate: float,
    poll_s: float,
    es_poll_s: float,
    timeout_s: float,
    refresh_interval: str | None,
) -> tuple[list[Track], float, int, str]:
    es = AsyncElasticsearch(settings.elasticsearch_url, request_timeout=30)
    index = settings.index(OPPORTUNITIES)
    if refresh_interval is not None:
        await es.indices.put_settings(
            index=index, settings={"index": {"refresh_interval": refresh_interval}}
        )
    configured = await es.indices.get_settings(index=index, name="index.refresh_interval")
    refresh = configured[index]["settings"]["index"]["refresh_interval"]
    consumer = AIOKafkaConsumer(
        settings.topic("arbitrage.opportunities"),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        auto_offset_reset="latest",
    )
    await consumer.start()
    connector = aiohttp.TCPConnector(limit=256)
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=30)
        ) as http:
            follower = Follower(
                settings, api_url, http, es,
                poll_s=poll_s, es_poll_s=es_poll_s, timeout_s=timeout_s,
            )  # fmt: skip
            for asin in asins:
                follower.tracks[asin] = Track(asin)
                follower.indexed[asin] = asyncio.Event()
            # The consumer holds its partitions (at their end) before the first POST.
            await consumer.getmany(timeout_ms=1000)
            background = [
                asyncio.create_task(follower.consume(consumer)),
                asyncio.create_task(follower.watch_es()),
            ]
            tasks = []
            interval = 1.0 / rate
            created = datetime.now(UTC)
            start = time.perf_counter()
            for i, asin in enumerate(asins):
                delay = start + i * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                body = notification_body(asin, created)
                tasks.append(asyncio.create_task(follower.follow(asin, webhook.url, body)))
            sending = time.perf_counter() - start
            await asyncio.gather(*tasks)
            follower.done.set()
            await asyncio.gather(*background)
            return list(follower.tracks.values()), sending, follower.api_requests, refresh
    finally:
        await consumer.stop()
        await es.close()


async def seed(worker: WorkerProcess, asins: list[str], at: datetime, timeout_s: float) -> None:
    s = worker.settings
    before = worker.counter("keepa_events")
    envelopes = seed_envelopes(asins, at)
    async with EnvelopePublisher(s.kafka_bootstrap_servers, s.topic("keepa.products")) as pub:
        report = await pub.publish(envelopes)
    if report.sent != len(envelopes):
        raise RuntimeError(f"published {report.sent} of {len(envelopes)} envelopes")
    deadline = time.monotonic() + timeout_s
    while (seen := worker.counter("keepa_events") - before) < len(envelopes):
        if time.monotonic() > deadline or not worker.alive():
            raise RuntimeError(f"the worker processed {seen}/{len(envelopes)}: {worker.tail()}")
        await asyncio.sleep(0.5)
    if opened := worker.counter("opportunities_opened"):
        raise RuntimeError(f"{opened} routes opened by the seed alone: prices not below break-even")


async def delete_run(settings: Settings) -> None:
    """The run's topics (its prefix and Faust's of its app id) and indices."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        prefixes = (settings.topic_prefix, f"{settings.faust_app_id}-")
        topics = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        if topics:
            await admin.delete_topics(topics)
    finally:
        await admin.close()
    es = AsyncElasticsearch(settings.elasticsearch_url)
    try:
        pattern = f"{settings.elasticsearch_index_prefix}*"
        rows: Any = (await es.cat.indices(index=pattern, format="json")).body
        names = [str(row["index"]) for row in rows]
        if names:
            await es.indices.delete(index=",".join(names), ignore_unavailable=True)
    finally:
        await es.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    base = Settings()
    name = f"benchnotif{uuid.uuid4().hex[:6]}"
    workdir = base.stack_dir / "bench" / name
    worker = WorkerProcess(
        name, workdir / "data", workdir / "worker.log", base, partitions=base.topic_partitions
    )
    s = worker.settings
    token = secrets.token_urlsafe(32)
    api = ServiceProcess(
        name="api",
        argv=[ARBITRAGE, "api", "--host", "127.0.0.1", "--port", str(s.api_port)],
        env=child_env(s, {"API_TOKEN": token}),
        log_path=workdir / "api.log",
        ready=lambda: api_healthy(s.api_url),
    )
    webhook = WebhookProcess(s, workdir / "webhook.log")
    asins = [asin_of(i) for i in range(args.asins)]
    seeded_at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    load_before = os.getloadavg()
    try:
        worker.start(timeout_s=180)
        webhook.start()
        api.start()
        api.wait_ready(120)
        t = time.perf_counter()
        asyncio.run(seed(worker, asins, seeded_at, timeout_s=600))
        seed_s = time.perf_counter() - t
        time.sleep(2)  # the seed's ES writes settle before the clock starts
        load_start = os.getloadavg()
        tracks, sending, api_requests, refresh = asyncio.run(
            drive(
                s, webhook, s.api_url.rstrip("/"), asins, args.rate,
                args.poll_ms / 1000, args.es_poll_ms / 1000, args.timeout_s,
                args.refresh_interval,
            )
        )  # fmt: skip
        load_end = os.getloadavg()
        counters = (worker.stats() or {}).get("counters", {})
        for process, what in ((worker, "worker"), (webhook, "webhook receiver")):
            if process.proc is None or process.proc.poll() is not None:
                raise RuntimeError(f"the {what} died")
    finally:
        api.stop()
        webhook.stop()
        worker.stop()
        if not args.keep:
            asyncio.run(delete_run(s))
    stages = figures(tracks)
    return {
        "bench": "notification_latency",
        "machine": f"{platform.machine()} {platform.node()}, {os.cpu_count()} cores",
        "asins": len(asins),
        "rate_per_s": args.rate,
        "achieved_rate_per_s": round((len(asins) - 1) / sending, 1) if sending else None,
        "api_poll_ms": args.poll_ms,
        "es_poll_ms": args.es_poll_ms,
        "api_requests": api_requests,
        "partitions": s.topic_partitions,
        "opportunities_refresh_interval": refresh,
        "refresh_interval_overridden": args.refresh_interval is not None,
        "seed_s": round(seed_s, 1),
        "p50_ms": stages["api"]["p50_ms"],
        "p90_ms": stages["api"]["p90_ms"],
        "p99_ms": stages["api"]["p99_ms"],
        "max_ms": stages["api"]["max_ms"],
        "missing": stages["api"]["missing"],
        "stages": stages,
        "steps": step_figures(tracks),
        "api_request": _ms([t.api_request for t in tracks if t.api_request is not None]),
        "opportunities_opened": counters.get("opportunities_opened"),
        "notifications_merged": counters.get("notifications_merged"),
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_at_start": [round(v, 2) for v in load_start],
        "loadavg_at_end": [round(v, 2) for v in load_end],
        "workdir": str(workdir),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--asins", type=int, default=500, help="notifications (one per ASIN)")
    parser.add_argument("--rate", type=float, default=20.0, help="POSTs a second")
    parser.add_argument("--poll-ms", type=float, default=50.0, help="API poll interval")
    parser.add_argument("--es-poll-ms", type=float, default=20.0, help="ES mget interval")
    parser.add_argument("--timeout-s", type=float, default=30.0, help="per notification")
    parser.add_argument(
        "--refresh-interval",
        help="set this refresh_interval on the run's opportunities index before the POSTs "
        "(an experiment: the project sets app.es.indices.refresh_interval_for)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and indices")
    args = parser.parse_args(argv)
    result = run(args)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stderr.write(format_table(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
