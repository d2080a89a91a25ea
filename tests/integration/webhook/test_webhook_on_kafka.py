"""The Keepa webhook receiver as a user runs it (`arbitrage webhook`), on the real broker:
Keepa's notification JSON in, the contract's message on ``keepa.notifications`` (on the
ASIN's murmur2 partition) already there when the 200 comes; a bad body on the DLQ unchanged;
503 when Kafka is unreachable or the topic is missing; the secret never in its log; and the
worker creating both topics, after which a receiver is healthy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from elasticsearch import Elasticsearch

from app.contracts.dead_letters import NotificationDeadLetter
from app.contracts.keepa_notifications import (
    KEEPA_NOTIFICATION,
    KEEPA_NOTIFICATIONS_TOPIC,
    KEEPA_WEBHOOK_DLQ_TOPIC,
)
from app.keepa.tracking.notifications import parse_notification
from app.settings import Settings
from devtools.webhook_process import WebhookProcess
from tests.integration.proc import is_loopback, listening_addresses
from tests.integration.worker_process import WorkerProcess, consume_until
from tests.session_resources import Owned, delete_owned, resource_name
from tests.unit.ingest.kafka_murmur2 import java_partition
from tests.webhook_receiver import closed_port

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOTIFICATION_JSON = (
    Path(__file__).resolve().parents[2] / "unit" / "keepa" / "data" / "notification.json"
).read_bytes()


@pytest.fixture(scope="module")
async def topics(kafka_bootstrap: str, settings: Settings) -> AsyncIterator[Settings]:
    """The receiver's settings: a prefix of this test's, both topics created as the worker
    creates them (the app's partition count)."""
    prefixed = settings.model_copy(update={"topic_prefix": f"{resource_name('hook')}."})
    names = [
        prefixed.topic(KEEPA_NOTIFICATIONS_TOPIC),
        prefixed.topic(KEEPA_WEBHOOK_DLQ_TOPIC),
    ]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, settings.topic_partitions, 1) for n in names])
        yield prefixed
        await admin.delete_topics(names)
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def receiver(
    topics: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebhookProcess]:
    process = WebhookProcess(topics, tmp_path_factory.mktemp("webhook") / "webhook.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def test_a_notification_is_on_the_topic_when_the_200_comes(
    receiver: WebhookProcess, kafka_bootstrap: str
) -> None:
    settings = receiver.settings
    topic = settings.topic(KEEPA_NOTIFICATIONS_TOPIC)
    partitions = settings.topic_partitions
    before = await end_offsets(kafka_bootstrap, topic, partitions)
    sent_at = datetime.now(UTC)
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(receiver.url, content=NOTIFICATION_JSON)
    assert response.status_code == 200, response.text
    # Read right after the answer, without waiting: the broker already had the record.
    after = await end_offsets(kafka_bootstrap, topic, partitions)
    partition = java_partition(b"B07QK9XW3T", partitions)
    assert after == {**before, partition: before[partition] + 1}

    records = await consume_until(kafka_bootstrap, topic, lambda rs: len(rs) > 0, 30)
    [record] = [r for r in records if r.offset == before[partition]]
    assert record.key == b"B07QK9XW3T"
    assert record.partition == partition
    message = KEEPA_NOTIFICATION.decode(record.value)
    assert sent_at <= message.received_at <= datetime.now(UTC)
    assert message == parse_notification(
        NOTIFICATION_JSON, source="webhook", received_at=message.received_at
    )
    assert response.json() == {
        "status": "published",
        "notification_id": message.notification_id,
        "asin": "B07QK9XW3T",
        "market": "FR",
    }


async def test_a_body_that_is_no_notification_is_on_the_dlq_unchanged(
    receiver: WebhookProcess, kafka_bootstrap: str
) -> None:
    body = NOTIFICATION_JSON.replace(b'"domainId": 3', b'"domainId": 7')  # Japan: not ours
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(receiver.url, content=body)
    assert response.status_code == 400, response.text
    assert response.json()["reason"] == "unknown_domain"
    dlq = receiver.settings.topic(KEEPA_WEBHOOK_DLQ_TOPIC)
    records = await consume_until(kafka_bootstrap, dlq, lambda rs: len(rs) > 0, 30)
    [record] = records
    assert record.value == body
    assert record.key is None
    letter = NotificationDeadLetter.from_headers(record.headers)
    assert letter.reason == "unknown_domain"
    assert letter.error == response.json()["detail"]
    assert letter.source == "webhook"


async def test_the_secret_is_checked_and_never_logged(receiver: WebhookProcess) -> None:
    guess = receiver.secret[:-2] + "zz"
    async with httpx.AsyncClient(timeout=30) as http:
        wrong = await http.post(f"{receiver.base}/keepa/{guess}", content=NOTIFICATION_JSON)
        assert wrong.status_code == 404
        assert wrong.json() == {"detail": "Not Found"}
        big = await http.post(receiver.url, content=b" " * (64 * 1024 + 1))
        assert big.status_code == 413
        stats = (await http.get(f"{receiver.base}/stats")).json()["counters"]
    assert stats["not_found"] >= 1
    assert stats["too_large"] >= 1
    addresses = listening_addresses(receiver.port)
    assert addresses
    assert all(is_loopback(a) for a in addresses), addresses
    deadline = time.monotonic() + 10
    while "404" not in receiver.log_path.read_text():  # the access log line of the guess
        assert time.monotonic() < deadline, receiver.tail()
        await asyncio.sleep(0.1)
    log = receiver.log_path.read_text()
    assert '"POST /keepa/<redacted> HTTP/1.1" 404' in log
    assert '"POST /keepa/<redacted> HTTP/1.1" 200' in log
    assert receiver.secret[:8] not in log
    assert guess[:8] not in log


async def test_503_when_kafka_cannot_be_reached(settings: Settings, tmp_path: Path) -> None:
    unreachable = settings.model_copy(
        update={
            "kafka_bootstrap_servers": f"127.0.0.1:{closed_port()}",
            "topic_prefix": f"{resource_name('hook')}.",
        }
    )
    process = WebhookProcess(unreachable, tmp_path / "webhook.log")
    process.start(healthy=False)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            health = await http.get(f"{process.base}/health")
            assert health.status_code == 503
            assert "not connected to Kafka" in health.json()["detail"]
            for body in (NOTIFICATION_JSON, b"{not json"):
                started = time.monotonic()
                response = await http.post(process.url, content=body)
                assert response.status_code == 503, response.text
                assert "not connected to Kafka" in response.json()["detail"]
                assert time.monotonic() - started < 2
    finally:
        process.stop()
    assert process.secret[:8] not in process.log_path.read_text()


async def test_503_within_the_time_limit_when_the_topic_does_not_exist(
    settings: Settings, tmp_path: Path, kafka_bootstrap: str
) -> None:
    missing = settings.model_copy(update={"topic_prefix": f"{resource_name('hook')}."})
    process = WebhookProcess(
        missing, tmp_path / "webhook.log", extra_env={"WEBHOOK_PUBLISH_TIMEOUT_S": "1.5"}
    )
    process.start(healthy=False)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            health = await http.get(f"{process.base}/health")
            assert health.status_code == 503
            assert "do not exist" in health.json()["detail"]
            started = time.monotonic()
            response = await http.post(process.url, content=NOTIFICATION_JSON)
            elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert "is not available" in response.json()["detail"]
        assert 1.0 <= elapsed < 5, elapsed
    finally:
        process.stop()
    assert "do not exist" in process.log_path.read_text()


async def test_the_worker_creates_both_topics_and_the_receiver_is_then_healthy(
    settings: Settings, es: Elasticsearch, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        resource_name("hookw"), tmp_path / "data", tmp_path / "worker.log", settings
    )
    receiver = WebhookProcess(worker.settings, tmp_path / "webhook.log")
    try:
        worker.start()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            names = [
                worker.settings.topic(KEEPA_NOTIFICATIONS_TOPIC),
                worker.settings.topic(KEEPA_WEBHOOK_DLQ_TOPIC),
            ]
            described = await admin.describe_topics(names)
        finally:
            await admin.close()
        for topic in described:
            assert topic["error_code"] == 0, topic
            assert len(topic["partitions"]) == worker.settings.topic_partitions, topic
        receiver.start()  # waits for /health to answer 200
    finally:
        receiver.stop()
        worker.stop()
        await delete_owned(settings.kafka_bootstrap_servers, es, Owned.of(worker.settings))
