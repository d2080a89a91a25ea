"""The local stack is real: Kafka answers the Kafka protocol, Elasticsearch indexes and searches."""

from __future__ import annotations

import contextlib
import subprocess
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from elasticsearch import Elasticsearch

from devtools.stack import StackManager
from devtools.stack.artifacts import pinned_versions


async def test_produce_and_consume_through_the_real_broker(
    kafka_bootstrap: str, unique: str
) -> None:
    topic = f"{unique}.roundtrip"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(30)}
            for key, value in sent.items():
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=f"{unique}-group",
        )
        await consumer.start()
        received: dict[bytes, bytes] = {}
        partitions: set[int] = set()
        try:
            while len(received) < len(sent):
                batch = await consumer.getmany(timeout_ms=10_000)
                assert batch, "no messages within 10 s"
                for tp, messages in batch.items():
                    partitions.add(tp.partition)
                    received.update({m.key: m.value for m in messages if m.key and m.value})
        finally:
            await consumer.stop()
        assert received == sent
        assert len(partitions) > 1  # keys really spread over the partitions
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def test_topics_are_not_auto_created(kafka_bootstrap: str, unique: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=3000)
    await producer.start()
    try:
        with contextlib.suppress(Exception):  # any failure is what we expect
            await producer.send_and_wait(f"{unique}.never-created", b"x")
        assert f"{unique}.never-created" not in await admin.list_topics()
    finally:
        await producer.stop()
        await admin.close()


def test_index_and_search_in_the_real_elasticsearch(es: Elasticsearch, unique: str) -> None:
    index = f"{unique}-search"
    es.indices.create(
        index=index,
        mappings={
            "dynamic": "strict",
            "properties": {
                "asin": {"type": "keyword"},
                "title": {"type": "text"},
                "price_cents": {"type": "long"},
            },
        },
    )
    try:
        es.index(
            index=index,
            id="B000000001",
            document={"asin": "B000000001", "title": "Blue kettle", "price_cents": 1999},
        )
        es.index(
            index=index,
            id="B000000002",
            document={"asin": "B000000002", "title": "Red toaster", "price_cents": 2999},
        )
        es.indices.refresh(index=index)
        hits = es.search(index=index, query={"match": {"title": "kettle"}})["hits"]
        assert hits["total"]["value"] == 1
        assert hits["hits"][0]["_id"] == "B000000001"
        # Same id again: an update, not a second document (idempotent writes rely on this).
        es.index(
            index=index,
            id="B000000001",
            document={"asin": "B000000001", "title": "Blue kettle", "price_cents": 1899},
            refresh=True,
        )
        assert es.count(index=index)["count"] == 2
    finally:
        es.indices.delete(index=index)


def test_up_is_idempotent_and_status_reports_versions(stack: StackManager) -> None:
    assert stack.up() == []  # already up: nothing started
    versions = pinned_versions()
    status = {s.name: s for s in stack.status()}
    assert status["kafka"].ready
    assert status["kafka"].version == versions.kafka
    assert status["elasticsearch"].ready
    assert f"server {versions.elasticsearch}" in status["elasticsearch"].detail


def test_cli_stack_up_twice_and_status(stack: StackManager) -> None:
    for _ in range(2):
        up = subprocess.run(
            [sys.executable, "-m", "app.cli", "stack", "up"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert up.returncode == 0, up.stderr
        assert "already up" in up.stdout
    status = subprocess.run(
        [sys.executable, "-m", "app.cli", "stack", "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0
    for word in ("kafka", "elasticsearch", "ready"):
        assert word in status.stdout
