"""How far a consumer group is behind: its committed offsets against the end offsets of the
topics it reads (used by the bench, before a kill -9, by the backtest and by the tests' drain
check), and waiting until it has caught up.

Caught up means: the group's committed offsets have reached the end offsets of every topic it
consumes. The committed offsets are read before the end offsets: if they still reach the ends,
every record that existed when the commits were read was processed, including everything the
upstream agents produced before committing their input (Faust flushes what an agent produced
before it commits the agent's input)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

__all__ = ["WORKER_INPUTS", "consumer_lag", "wait_drained"]

#: What a worker consumes (detector, sink, alerts, fx and profile agents), without the topic
#: prefix.
WORKER_INPUTS = (
    "keepa.products",
    "arbitrage.reevaluations",
    "arbitrage.observations",
    "arbitrage.opportunities",
    "fx.rates",
    "seller.profile",
)


async def consumer_lag(bootstrap: str, group: str, topics: Iterable[str]) -> dict[str, int]:
    """``{"topic:partition": records not yet committed by group}``, only where it is not 0."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics(list(topics))
        partitions = []
        for topic in described:
            if topic["error_code"] != 0:
                raise AssertionError(f"cannot describe topic {topic['topic']}: {topic}")
            partitions += [
                TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]
            ]
        committed = await admin.list_consumer_group_offsets(group)  # before the ends
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()
    lag = {}
    for tp in partitions:
        done = committed[tp].offset if tp in committed else starts[tp]
        if ends[tp] > done:
            lag[f"{tp.topic}:{tp.partition}"] = ends[tp] - done
    return lag


async def wait_drained(
    bootstrap: str, group: str, topics: Iterable[str], timeout_s: float = 120
) -> None:
    """Return once ``group`` has committed every partition of ``topics`` up to its end; raises
    ``AssertionError`` naming the lag after ``timeout_s``."""
    topics = list(topics)
    deadline = time.monotonic() + timeout_s
    while lag := await consumer_lag(bootstrap, group, topics):
        if time.monotonic() > deadline:
            raise AssertionError(f"group {group} not drained after {timeout_s}s, lag: {lag}")
        await asyncio.sleep(0.5)
