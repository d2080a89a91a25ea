"""EnvelopePublisher's retry and error reporting, with a fake aiokafka producer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

import app.ingest.producer as producer_module
from app.contracts.keepa_products import KeepaProductsEnvelope, make_envelope
from app.ingest.producer import EnvelopePublisher, PublishError


@dataclass
class Metadata:
    partition: int


class FakeProducer:
    """Fails the sends of ``failures[key]`` attempts with ``error`` (or raises at send)."""

    def __init__(self, failures: dict[bytes, int], error: Exception, at_send: bool = False) -> None:
        self.failures = dict(failures)
        self.error = error
        self.at_send = at_send
        self.attempts: dict[bytes | None, int] = {}

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future[Any]:
        self.attempts[key] = self.attempts.get(key, 0) + 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if key is not None and self.failures.get(key, 0) > 0:
            self.failures[key] -= 1
            if self.at_send:
                raise self.error
            future.set_exception(self.error)
        else:
            future.set_result(Metadata(partition=len(key or b"") % 2))
        return future


def publisher(fake: FakeProducer, max_attempts: int = 3) -> EnvelopePublisher:
    pub = EnvelopePublisher("unused:9092", "topic", max_attempts=max_attempts)
    pub._producer = fake
    return pub


def envs(*asins: str) -> list[KeepaProductsEnvelope]:
    at = datetime(2026, 11, 20, tzinfo=UTC)
    return [make_envelope("DE", {"asin": a}, at) for a in asins]


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(producer_module, "_BACKOFF_S", 0.0)


async def test_transient_failures_are_retried_until_delivered() -> None:
    fake = FakeProducer({b"B000000001": 2}, KafkaTimeoutError())
    report = await publisher(fake).publish(envs("B000000001", "B000000002"))
    assert report.sent == 2
    assert report.keys == ["B000000001", "B000000002"]
    assert fake.attempts[b"B000000001"] == 3
    assert fake.attempts[b"B000000002"] == 1


async def test_failures_at_send_time_are_retried_too() -> None:
    fake = FakeProducer({b"B000000001": 1}, KafkaTimeoutError(), at_send=True)
    report = await publisher(fake).publish(envs("B000000001"))
    assert report.sent == 1


async def test_exhausted_retries_raise_with_the_failed_keys() -> None:
    fake = FakeProducer({b"B000000001": 99}, KafkaTimeoutError())
    with pytest.raises(PublishError) as caught:
        await publisher(fake, max_attempts=3).publish(envs("B000000001", "B000000002"))
    assert caught.value.failed_keys == ["B000000001"]
    assert caught.value.delivered == 1
    assert fake.attempts[b"B000000001"] == 3


async def test_non_retriable_errors_are_not_retried() -> None:
    fake = FakeProducer({b"B000000001": 99}, MessageSizeTooLargeError())
    with pytest.raises(PublishError) as caught:
        await publisher(fake).publish(envs("B000000001"))
    assert caught.value.failed_keys == ["B000000001"]
    assert fake.attempts[b"B000000001"] == 1


async def test_publish_requires_a_started_publisher() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        await EnvelopePublisher("unused:9092", "topic").publish(envs("B000000001"))


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        EnvelopePublisher("unused:9092", "topic", max_attempts=0)


class DeferredProducer(FakeProducer):
    """Acknowledges nothing until ``release()``: the futures resolve later, like the broker's."""

    def __init__(self, failures: dict[bytes, int], error: Exception) -> None:
        super().__init__(failures, error)
        self.held: list[tuple[asyncio.Future[Any], bytes | None]] = []
        self.sent_before_any_ack = 0

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future[Any]:
        self.attempts[key] = self.attempts.get(key, 0) + 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.held.append((future, key))
        if not any(f.done() for f, _ in self.held):
            self.sent_before_any_ack = len(self.held)
        asyncio.get_running_loop().call_later(0.01, self.release)
        return future

    def release(self) -> None:
        for future, key in self.held:
            if future.done():
                continue
            if key is not None and self.failures.get(key, 0) > 0:
                self.failures[key] -= 1
                future.set_exception(self.error)
            else:
                future.set_result(Metadata(partition=len(key or b"") % 2))


async def test_records_are_not_acknowledged_one_by_one() -> None:
    """Every record of a pass is handed over before the first acknowledgement is awaited;
    late failures are still retried and reported by key."""
    fake = DeferredProducer({b"B000000002": 1, b"B000000003": 99}, KafkaTimeoutError())
    asins = [f"B00000000{i}" for i in range(1, 6)]
    with pytest.raises(PublishError) as caught:
        await publisher(fake, max_attempts=3).publish(envs(*asins))
    assert fake.sent_before_any_ack == 5
    assert caught.value.failed_keys == ["B000000003"]
    assert caught.value.delivered == 4
    assert fake.attempts[b"B000000002"] == 2
    assert fake.attempts[b"B000000003"] == 3


async def test_a_fatal_failure_does_not_stop_the_retries_of_others() -> None:
    fake = FakeProducer({b"B000000001": 99, b"B000000002": 1}, KafkaTimeoutError())
    fake_fatal = {b"B000000001"}
    original_send = fake.send

    async def send(topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future[Any]:
        if key in fake_fatal:
            fake.attempts[key] = fake.attempts.get(key, 0) + 1
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_exception(MessageSizeTooLargeError())
            return future
        return await original_send(topic, value, key=key)

    fake.send = send  # type: ignore[method-assign]
    with pytest.raises(PublishError) as caught:
        await publisher(fake).publish(envs("B000000001", "B000000002", "B000000003"))
    assert caught.value.failed_keys == ["B000000001"]
    assert caught.value.delivered == 2
    assert fake.attempts[b"B000000001"] == 1
    assert fake.attempts[b"B000000002"] == 2


def test_default_codec_and_batch_size() -> None:
    """zstd (available: cramjam is a dependency) and batches far above two envelopes."""
    from aiokafka.codec import has_zstd

    pub = EnvelopePublisher("unused:9092", "topic")
    assert pub._config["compression_type"] == "zstd"
    assert has_zstd()
    assert pub._config["max_batch_size"] >= 100 * 6_000
    assert pub._config["acks"] == "all"
    assert pub._config["enable_idempotence"] is True


async def test_a_cancelled_delivery_is_a_failure_reported_by_key() -> None:
    fake = DeferredProducer({}, KafkaTimeoutError())

    def cancel_the_first() -> None:
        fake.held[0][0].cancel()
        DeferredProducer.release(fake)

    fake.release = cancel_the_first  # type: ignore[method-assign]
    with pytest.raises(PublishError) as caught:
        await publisher(fake).publish(envs("B000000001", "B000000002"))
    assert caught.value.failed_keys == ["B000000001"]
    assert caught.value.delivered == 1
    assert fake.attempts[b"B000000001"] == 1
