"""Throughput and latency of the Keepa webhook receiver, POST to 200, on the local stack.

    STACK_DIR=... uv run python bench/webhook_latency.py [--posts 500] [--concurrency 16]

Starts `arbitrage webhook` as a user would (a process of its own, default settings but its
own topic prefix, on a free port), creates ``<prefix>keepa.notifications`` and its DLQ with
the app's partition count, and posts ``--posts`` notifications (Keepa's notification JSON of
tests/unit/keepa/data/notification.json, each with its own ASIN, so they spread over the
partitions) from one aiohttp client in this process, over kept-alive connections (aiohttp,
installed with Faust, rather than httpx: with 16 requests in flight httpx's connection pool
took twice the client CPU and put ~200 ms tails on the figures that were the client's):

1. sequentially (one POST at a time): the latency of one notification with nothing queued;
2. ``--concurrency`` POSTs in flight at once: the throughput, and the latency under load.

Each latency is the client's ``perf_counter`` from sending the POST to reading the 200 (which
the receiver sends only after Kafka acknowledged the record, ``acks=all``). Afterwards the
topic's end offsets must add up to every POST answered 200. Prints one JSON line; the topics
are deleted at the end. The client, the receiver and the broker share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.contracts.keepa_notifications import (
    KEEPA_NOTIFICATIONS_TOPIC,
    KEEPA_WEBHOOK_DLQ_TOPIC,
)
from app.settings import PROJECT_ROOT, Settings
from devtools.webhook_process import WebhookProcess

NOTIFICATION = json.loads(
    (PROJECT_ROOT / "tests" / "unit" / "keepa" / "data" / "notification.json").read_text()
)


def bodies(n: int, offset: int) -> list[bytes]:
    """``n`` notifications, each of its own ASIN and creation minute."""
    result = []
    for i in range(offset, offset + n):
        item = dict(NOTIFICATION, asin=f"B0{i:08d}", createDate=NOTIFICATION["createDate"] + i)
        result.append(json.dumps(item).encode())
    return result


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def summary(latencies_s: list[float], elapsed_s: float) -> dict[str, Any]:
    ms = [v * 1000 for v in latencies_s]
    return {
        "posts": len(ms),
        "posts_per_s": round(len(ms) / elapsed_s, 1),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


async def post_all(
    http: aiohttp.ClientSession, url: str, payloads: list[bytes], concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = list(reversed(payloads))

    async def lane() -> None:
        while queue:
            body = queue.pop()
            started = time.perf_counter()
            async with http.post(url, data=body) as response:
                text = await response.text()
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"answered {response.status}: {text}")

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


async def records_on(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def run(posts: int, concurrency: int, warmup: int) -> dict[str, Any]:
    base = Settings()
    settings = base.model_copy(update={"topic_prefix": f"bench-webhook-{uuid.uuid4().hex[:8]}."})
    topics = [
        settings.topic(KEEPA_NOTIFICATIONS_TOPIC),
        settings.topic(KEEPA_WEBHOOK_DLQ_TOPIC),
    ]
    partitions = settings.topic_partitions
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
        with tempfile.TemporaryDirectory() as tmp:
            process = WebhookProcess(settings, Path(tmp) / "webhook.log")
            process.start()
            try:
                connector = aiohttp.TCPConnector(limit=concurrency)
                timeout = aiohttp.ClientTimeout(total=30)
                async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
                    await post_all(http, process.url, bodies(warmup, 0), concurrency)
                    sequential = await post_all(http, process.url, bodies(posts, warmup), 1)
                    concurrent = await post_all(
                        http, process.url, bodies(posts, warmup + posts), concurrency
                    )
                    async with http.get(f"{process.base}/stats") as response:
                        stats = (await response.json())["counters"]
            finally:
                process.stop()
        on_topic = await records_on(settings.kafka_bootstrap_servers, topics[0], partitions)
    finally:
        await admin.delete_topics(topics)
        await admin.close()
    expected = warmup + 2 * posts
    if on_topic != expected or stats.get("published") != expected:
        raise RuntimeError(f"{on_topic} records on the topic, {stats}; expected {expected}")
    return {
        "partitions": partitions,
        "sequential": summary(*sequential),
        "concurrent": {"concurrency": concurrency, **summary(*concurrent)},
        "records_on_topic": on_topic,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.posts, args.concurrency, args.warmup))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
