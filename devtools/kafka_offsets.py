"""How far a consumer group is behind: its committed offsets against the end offsets of the
topics it reads (used by the bench, before a kill -9, and by the tests' drain check)."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

__all__ = ["consumer_lag"]


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
