"""The envelope publisher on the real broker: delivery, keys, and partitions identical to
Kafka's default (murmur2) partitioner - the one Faust and the Java client use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.contracts.keepa_products import KeepaProductsEnvelope, make_envelope
from app.domain.markets import Market
from app.ingest.producer import EnvelopePublisher, PublishError, publish_envelopes
from app.settings import Settings
from tests.integration.worker_process import consume_until
from tests.keepa_factory import keepa_product
from tests.unit.ingest.kafka_murmur2 import java_partition

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PARTITIONS = 4


@pytest.fixture
async def topic(kafka_bootstrap: str, unique: str) -> AsyncIterator[str]:
    name = f"{unique}.keepa.products"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


def envelopes(n: int) -> list[KeepaProductsEnvelope]:
    markets = list(Market)
    return [
        make_envelope(
            markets[i % len(markets)],
            keepa_product(f"B0{i:08d}", markets[i % len(markets)], last_update=T0, new=1000 + i),
            T0,
        )
        for i in range(n)
    ]


async def test_every_envelope_is_delivered_on_the_murmur2_partition(
    kafka_bootstrap: str, topic: str
) -> None:
    batch = envelopes(120)
    async with EnvelopePublisher(kafka_bootstrap, topic) as publisher:
        report = await publisher.publish(batch)
    assert report.sent == 120
    assert report.keys == [e.product["asin"] for e in batch]
    expected: dict[int, int] = {}
    for key in report.keys:
        p = java_partition(key.encode(), PARTITIONS)
        expected[p] = expected.get(p, 0) + 1
    assert report.partitions == expected
    assert len(expected) == PARTITIONS  # 120 keys spread over all partitions

    records = await consume_until(kafka_bootstrap, topic, lambda rs: len(rs) >= 120, 60)
    assert len(records) == 120
    for record in records:
        assert record.key is not None
        assert record.partition == java_partition(record.key, PARTITIONS)
        assert orjson.loads(record.value)["product"]["asin"] == record.key.decode()
    assert sorted(r.key.decode() for r in records if r.key) == sorted(report.keys)


async def test_sync_wrapper_publishes_to_the_prefixed_topic(
    kafka_bootstrap: str, topic: str, settings: Settings
) -> None:
    prefix = topic.removesuffix("keepa.products")
    s = settings.model_copy(update={"topic_prefix": prefix})
    report = await asyncio.to_thread(publish_envelopes, envelopes(5), s)
    assert report.sent == 5
    records = await consume_until(kafka_bootstrap, topic, lambda rs: len(rs) >= 5, 60)
    assert {r.key for r in records} == {f"B0{i:08d}".encode() for i in range(5)}


async def test_missing_topic_is_an_error_listing_every_key(
    kafka_bootstrap: str, unique: str
) -> None:
    async with EnvelopePublisher(
        kafka_bootstrap, f"{unique}.absent", request_timeout_ms=3000, max_attempts=2
    ) as publisher:
        with pytest.raises(PublishError) as caught:
            await publisher.publish(envelopes(3))
    assert caught.value.failed_keys == ["B000000000", "B000000001", "B000000002"]
    assert caught.value.delivered == 0


async def test_empty_publish_sends_nothing(kafka_bootstrap: str, topic: str) -> None:
    async with EnvelopePublisher(kafka_bootstrap, topic) as publisher:
        report = await publisher.publish([])
    assert (report.sent, report.partitions, report.keys) == (0, {}, [])
