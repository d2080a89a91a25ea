"""Publish Keepa product envelopes to ``keepa.products``: key = ASIN, delivery confirmed.

Envelopes are :class:`app.contracts.keepa_products.KeepaProductsEnvelope` messages, encoded
by their contract.

The producer is idempotent with ``acks=all`` and compresses batches (zstd by default, batches
of up to 1 MB: see :data:`DEFAULT_COMPRESSION`). Records are handed to the producer without
waiting for each acknowledgement; the acknowledgements are collected as they come. Partitioning is
aiokafka's default partitioner (murmur2 of the key bytes, positive, modulo the partition
count): the same function as Kafka's Java client and Faust, so an ASIN's messages land on
the partition that holds its table state (see ``docs/contract.md``).

:meth:`EnvelopePublisher.publish` returns only after every record was acknowledged by the
broker. A record whose delivery failed with a retriable error is sent again, once every
record of the pass is acknowledged or failed, after an exponential backoff, up to
``max_attempts`` attempts in all; whatever is still undelivered then (or failed with a
non-retriable error) raises :class:`PublishError` listing the keys. Nothing is dropped
silently. A retried record may land after a later record of the same
ASIN: harmless, because the worker orders observations by event time (``lastUpdate``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError, RequestTimedOutError

from app.contracts.keepa_products import ENVELOPE, KeepaProductsEnvelope, envelope_key
from app.settings import Settings, get_settings

__all__ = [
    "EnvelopePublisher",
    "PublishError",
    "PublishReport",
    "envelope_key",
    "envelope_record",
    "producer_options",
    "publish_envelopes",
]

logger = logging.getLogger(__name__)

#: Batch compression. zstd (through ``cramjam``, a dependency of both environments, the
#: worker's and Airflow's) compresses a 1 MB batch of envelopes in a few milliseconds; gzip,
#: which aiokafka runs at level 9, takes ~0.3 ms per 6 KB envelope on the event loop and
#: held the publisher near 1,000 envelopes/s.
DEFAULT_COMPRESSION: Final = "zstd"
#: Bytes per partition batch. aiokafka's default (16 KB) holds two ~6 KB envelopes, and an
#: idempotent producer has one batch per partition in flight: one round trip per two records.
DEFAULT_MAX_BATCH_BYTES: Final = 1_000_000  # under the broker's message.max.bytes (1 MiB)
#: First retry backoff (doubles per attempt, capped).
_BACKOFF_S: Final = 0.5
_MAX_BACKOFF_S: Final = 10.0


def producer_options(
    bootstrap_servers: str,
    *,
    acks: str | int = "all",
    enable_idempotence: bool = True,
    compression_type: str | None = DEFAULT_COMPRESSION,
    linger_ms: int = 20,
    max_batch_size: int = DEFAULT_MAX_BATCH_BYTES,
    request_timeout_ms: int = 40_000,
) -> dict[str, Any]:
    """The keyword arguments of an :class:`aiokafka.AIOKafkaProducer` of ours: idempotent,
    ``acks=all``, zstd batches of up to 1 MB (the envelope publisher's; the Keepa webhook
    receiver's with a shorter linger and time limit)."""
    return {
        "bootstrap_servers": bootstrap_servers,
        "acks": acks,
        "enable_idempotence": enable_idempotence,
        "compression_type": compression_type,
        "linger_ms": linger_ms,
        "max_batch_size": max_batch_size,
        "request_timeout_ms": request_timeout_ms,
    }


@dataclass
class PublishReport:
    """What a publish delivered: count, records per partition, and the keys in input order.

    An envelope whose product has no ASIN is sent without a key (the worker dead-letters it
    as ``missing_key``); its entry in ``keys`` is ``""``.
    """

    sent: int = 0
    partitions: dict[int, int] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)

    def merge(self, other: PublishReport) -> None:
        """Add ``other``'s counts and keys to this report."""
        self.sent += other.sent
        for partition, count in other.partitions.items():
            self.partitions[partition] = self.partitions.get(partition, 0) + count
        self.keys.extend(other.keys)


class PublishError(RuntimeError):
    """Some envelopes were not delivered after every retry; ``failed_keys`` lists their keys.

    Records of the same call that are not listed were delivered (``delivered`` of them).
    """

    def __init__(self, message: str, failed_keys: list[str], delivered: int = 0) -> None:
        super().__init__(message)
        self.failed_keys = failed_keys
        self.delivered = delivered


def envelope_record(envelope: KeepaProductsEnvelope) -> tuple[bytes | None, bytes]:
    """``(key, value)`` bytes of an envelope: the ASIN in UTF-8 and the encoded message."""
    key = envelope_key(envelope)
    return (None if key is None else key.encode("utf-8")), ENVELOPE.encode(envelope)


@dataclass(slots=True)
class _Record:
    key: str
    key_bytes: bytes | None
    value: bytes


def _record(envelope: KeepaProductsEnvelope) -> _Record:
    key = envelope_key(envelope)
    key_bytes = None if key is None else key.encode("utf-8")
    return _Record(key or "", key_bytes, ENVELOPE.encode(envelope))


class _Outcome:
    """Delivery outcomes of the records of one :meth:`EnvelopePublisher.publish`, filled in by
    the callbacks of their delivery futures."""

    def __init__(self, report: PublishReport) -> None:
        self.report = report
        self.retry: list[_Record] = []
        self.fatal: list[_Record] = []
        self._unsettled: set[asyncio.Future[Any]] = set()
        self._interrupted: BaseException | None = None

    def track(self, record: _Record, future: asyncio.Future[Any], attempt: int) -> None:
        self._unsettled.add(future)
        future.add_done_callback(functools.partial(self._done, record, attempt))

    def _done(self, record: _Record, attempt: int, future: asyncio.Future[Any]) -> None:
        self._unsettled.discard(future)
        if future.cancelled():  # the producer was closed under it: failed, not retried
            self.fatal.append(record)
            _log_failure(record, asyncio.CancelledError("delivery cancelled"), attempt)
            return
        exc = future.exception()
        if exc is None:
            report = self.report
            report.sent += 1
            partition = int(future.result().partition)
            report.partitions[partition] = report.partitions.get(partition, 0) + 1
        elif isinstance(exc, Exception):
            self.failed(record, exc, attempt)
        else:
            self._interrupted = exc

    def failed(self, record: _Record, exc: Exception, attempt: int) -> None:
        (self.retry if _retriable(exc) else self.fatal).append(record)
        _log_failure(record, exc, attempt)

    async def settled(self) -> None:
        """Wait until every tracked record was acknowledged or failed."""
        while self._unsettled:
            await asyncio.wait(list(self._unsettled))
        if self._interrupted is not None:
            raise self._interrupted

    def take_retries(self) -> list[_Record]:
        retry, self.retry = self.retry, []
        return retry


class EnvelopePublisher:
    """Async context manager around an idempotent :class:`aiokafka.AIOKafkaProducer`.

    ``request_timeout_ms`` bounds how long one send may take, and how long a missing topic
    is waited for (the broker does not create topics: the worker does).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        acks: str | int = "all",
        enable_idempotence: bool = True,
        compression_type: str | None = DEFAULT_COMPRESSION,
        linger_ms: int = 20,
        max_batch_size: int = DEFAULT_MAX_BATCH_BYTES,
        max_attempts: int = 5,
        request_timeout_ms: int = 40_000,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.max_attempts = max_attempts
        self._config = producer_options(
            bootstrap_servers,
            acks=acks,
            enable_idempotence=enable_idempotence,
            compression_type=compression_type,
            linger_ms=linger_ms,
            max_batch_size=max_batch_size,
            request_timeout_ms=request_timeout_ms,
        )
        self._producer: Any = None
        self._topic_checked = False

    async def __aenter__(self) -> EnvelopePublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(**self._config)
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        """Flush and close the producer (pending records are delivered or fail first)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, envelopes: Iterable[KeepaProductsEnvelope]) -> PublishReport:
        """Send every envelope and wait for the broker's acknowledgement of each.

        Raises :class:`PublishError` when some could not be delivered (see the module doc).
        """
        if self._producer is None:
            raise RuntimeError("EnvelopePublisher is not started (use `async with`)")
        report = PublishReport()
        outcome = _Outcome(report)
        if await self._topic_exists():
            for envelope in envelopes:
                record = _record(envelope)
                report.keys.append(record.key)
                await self._send(record, 1, outcome)
            await outcome.settled()
            pending = outcome.take_retries()
            for attempt in range(2, self.max_attempts + 1):
                if not pending:
                    break
                await asyncio.sleep(min(_BACKOFF_S * 2 ** (attempt - 2), _MAX_BACKOFF_S))
                for record in pending:
                    await self._send(record, attempt, outcome)
                await outcome.settled()
                pending = outcome.take_retries()
            failed = outcome.fatal + pending
        else:
            failed = [_record(envelope) for envelope in envelopes]
            report.keys.extend(r.key for r in failed)
        if failed:
            failed_keys = [r.key for r in failed]
            raise PublishError(
                f"{len(failed)} of {len(report.keys)} envelopes were not delivered to "
                f"{self.topic} after {self.max_attempts} attempts",
                failed_keys,
                delivered=report.sent,
            )
        return report

    async def _send(self, record: _Record, attempt: int, outcome: _Outcome) -> None:
        """Hand ``record`` to the producer; its outcome lands in ``outcome`` when known.

        Not awaited one by one: ``send`` returns once the record is in a batch (it waits
        only while the partition's batch is full), and the broker's acknowledgements arrive
        as callbacks, so many batches are on their way at once.
        """
        try:
            future = await self._producer.send(self.topic, record.value, key=record.key_bytes)
        except KafkaError as exc:
            outcome.failed(record, exc, attempt)
        else:
            outcome.track(record, future, attempt)

    async def _topic_exists(self) -> bool:
        if self._topic_checked:
            return True
        try:
            await self._producer.partitions_for(self.topic)
        except KafkaError as exc:
            logger.error(
                "topic %s is not available (%s); is the worker running? It creates the topics",
                self.topic,
                type(exc).__name__,
            )
            return False
        self._topic_checked = True
        return True


def _retriable(exc: BaseException) -> bool:
    """Worth another attempt: Kafka's retriable errors, timeouts and connection losses."""
    if isinstance(exc, KafkaTimeoutError | RequestTimedOutError):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    return isinstance(exc, TimeoutError | ConnectionError)


def _log_failure(record: _Record, exc: BaseException, attempt: int) -> None:
    logger.warning(
        "delivery of key %r failed (attempt %d): %s: %s",
        record.key,
        attempt,
        type(exc).__name__,
        exc,
    )


def publish_envelopes(
    envelopes: Iterable[KeepaProductsEnvelope], settings: Settings | None = None
) -> PublishReport:
    """Synchronous :meth:`EnvelopePublisher.publish` for Airflow tasks and the CLI.

    Publishes to ``settings.topic("keepa.products")`` on ``settings.kafka_bootstrap_servers``.
    Must not be called from a running event loop (it uses ``asyncio.run``).
    """
    s = settings or get_settings()

    async def run() -> PublishReport:
        async with EnvelopePublisher(
            s.kafka_bootstrap_servers, s.topic("keepa.products")
        ) as publisher:
            return await publisher.publish(envelopes)

    return asyncio.run(run())
