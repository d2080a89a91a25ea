"""Publish Keepa product envelopes to ``keepa.products``: key = ASIN, delivery confirmed.

Envelopes are :class:`app.contracts.keepa_products.KeepaProductsEnvelope` messages, encoded
by their contract.

The producer is idempotent with ``acks=all`` and compresses batches. Partitioning is
aiokafka's default partitioner (murmur2 of the key bytes, positive, modulo the partition
count): the same function as Kafka's Java client and Faust, so an ASIN's messages land on
the partition that holds its table state (see ``docs/contract.md``).

:meth:`EnvelopePublisher.publish` returns only after every record was acknowledged by the
broker. A record whose delivery failed with a retriable error is sent again with
exponential backoff, up to ``max_attempts`` attempts in all; whatever is still undelivered
then (or failed with a non-retriable error) raises :class:`PublishError` listing the keys.
Nothing is dropped silently. A retried record may land after a later record of the same
ASIN: harmless, because the worker orders observations by event time (``lastUpdate``).
"""

from __future__ import annotations

import asyncio
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
    "publish_envelopes",
]

logger = logging.getLogger(__name__)

#: Records sent before their delivery futures are awaited (bounds memory on large inputs).
_WINDOW: Final = 2_000
#: First retry backoff (doubles per attempt, capped).
_BACKOFF_S: Final = 0.5
_MAX_BACKOFF_S: Final = 10.0


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
        compression_type: str | None = "gzip",
        linger_ms: int = 20,
        max_attempts: int = 5,
        request_timeout_ms: int = 40_000,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.max_attempts = max_attempts
        self._config: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "acks": acks,
            "enable_idempotence": enable_idempotence,
            "compression_type": compression_type,
            "linger_ms": linger_ms,
            "request_timeout_ms": request_timeout_ms,
        }
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
        failed: list[_Record] = []
        window: list[_Record] = []
        for envelope in envelopes:
            key_bytes, value = envelope_record(envelope)
            record = _Record(envelope_key(envelope) or "", key_bytes, value)
            report.keys.append(record.key)
            window.append(record)
            if len(window) >= _WINDOW:
                failed.extend(await self._deliver(window, report))
                window = []
        if window:
            failed.extend(await self._deliver(window, report))
        if failed:
            keys = [r.key for r in failed]
            raise PublishError(
                f"{len(failed)} of {len(report.keys)} envelopes were not delivered to "
                f"{self.topic} after {self.max_attempts} attempts",
                keys,
                delivered=report.sent,
            )
        return report

    async def _deliver(self, records: list[_Record], report: PublishReport) -> list[_Record]:
        """Send ``records`` with retries; the ones that finally failed."""
        if not await self._topic_exists():
            return records
        pending = records
        for attempt in range(1, self.max_attempts + 1):
            retry: list[_Record] = []
            fatal: list[_Record] = []
            futures: list[tuple[_Record, asyncio.Future[Any]]] = []
            for record in pending:
                try:
                    future = await self._producer.send(
                        self.topic, record.value, key=record.key_bytes
                    )
                except KafkaError as exc:
                    (retry if _retriable(exc) else fatal).append(record)
                    _log_failure(record, exc, attempt)
                else:
                    futures.append((record, future))
            results = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
            for (record, _), result in zip(futures, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception):
                        raise result
                    (retry if _retriable(result) else fatal).append(record)
                    _log_failure(record, result, attempt)
                else:
                    report.sent += 1
                    partition = int(result.partition)
                    report.partitions[partition] = report.partitions.get(partition, 0) + 1
            if fatal or not retry or attempt == self.max_attempts:
                return fatal + retry
            pending = retry
            await asyncio.sleep(min(_BACKOFF_S * 2 ** (attempt - 1), _MAX_BACKOFF_S))
        return []  # pragma: no cover - the loop always returns

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
