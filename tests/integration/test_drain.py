"""The drain helpers (devtools.kafka_offsets, via tests/integration/drain.py) on the real
broker: they report what a group has not committed yet and wait for nothing less than every
partition committed to its end."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from tests.integration.drain import consumer_lag, wait_drained

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    # No auto-commit: on stop it would commit the consumer's positions, which it may have
    # fetched (the committed offsets) before the commit below, undoing it (seen under load).
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    finally:
        await consumer.stop()


async def test_lag_until_every_partition_is_committed_to_its_end(
    kafka_bootstrap: str, unique: str
) -> None:
    topic, other, group = f"{unique}.in", f"{unique}.empty", f"{unique}-group"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1), NewTopic(other, 1, 1)])
    finally:
        await admin.close()
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    # 3 records on partition 0, 2 on partition 1 (explicit partitions: no partitioner luck).
    producer_messages = [(None, b"a"), (None, b"b"), (None, b"c")]
    await produce_to(kafka_bootstrap, topic, 0, producer_messages)
    await produce_to(kafka_bootstrap, topic, 1, producer_messages[:2])

    # Never committed: everything is lag; an empty topic is not.
    assert await consumer_lag(kafka_bootstrap, group, [topic, other]) == {
        f"{topic}:0": 3,
        f"{topic}:1": 2,
    }
    with pytest.raises(AssertionError, match=rf"not drained after 1s, lag: .*{topic}:0': 3"):
        await wait_drained(kafka_bootstrap, group, [topic, other], timeout_s=1)

    await commit(kafka_bootstrap, group, {p0: 3, p1: 1})
    assert await consumer_lag(kafka_bootstrap, group, [topic, other]) == {f"{topic}:1": 1}

    await commit(kafka_bootstrap, group, {p0: 3, p1: 2})
    await wait_drained(kafka_bootstrap, group, [topic, other], timeout_s=5)
    assert await consumer_lag(kafka_bootstrap, group, [topic, other]) == {}

    # A record arriving after that is lag again.
    await produce_to(kafka_bootstrap, topic, 1, [(None, b"d")])
    assert await consumer_lag(kafka_bootstrap, group, [topic]) == {f"{topic}:1": 1}


async def produce_to(
    bootstrap: str, topic: str, partition: int, messages: list[tuple[bytes | None, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


async def test_an_unknown_topic_is_an_error_not_a_drained_one(
    kafka_bootstrap: str, unique: str
) -> None:
    with pytest.raises(AssertionError, match="cannot describe topic"):
        await consumer_lag(kafka_bootstrap, f"{unique}-group", [f"{unique}.absent"])
