"""The receiver's publisher on Kafka: one long-lived idempotent producer (``acks=all``, the
project's producer options), each record awaited until the broker acknowledges it.

Connecting happens in the background: the receiver starts (and answers 503) while Kafka
cannot be reached, and the producer is retried every ``connect_retry_s`` seconds until it
connects. Once connected, aiokafka reconnects by itself after a broker outage.

A record not acknowledged within ``timeout_s`` (the broker is down, the topic does not
exist, ...) raises :class:`~app.webhook.publisher.PublishUnavailableError`. The producer may
still deliver it afterwards (its own time limit is the same): then Keepa's retry, or the
queue read, publishes the notification a second time with the same ``notification_id``,
which is what that identity is for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from app.contracts.dead_letters import NotificationDeadLetter
from app.contracts.keepa_notifications import (
    KEEPA_NOTIFICATION,
    KEEPA_NOTIFICATIONS_TOPIC,
    KEEPA_WEBHOOK_DLQ_TOPIC,
    KeepaNotification,
)
from app.ingest.producer import producer_options
from app.settings import Settings
from app.webhook.publisher import PublisherHealth, PublishUnavailableError

__all__ = ["KafkaNotificationPublisher"]

log = logging.getLogger(__name__)

#: Each POST waits at least this long for its batch to leave (the worker's producer: 1 ms).
_LINGER_MS: Final = 1


class KafkaNotificationPublisher:
    """:class:`~app.webhook.publisher.NotificationPublisher` on ``bootstrap_servers``.

    ``topic`` and ``dlq_topic`` are the full names (with ``TOPIC_PREFIX``).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        dlq_topic: str,
        *,
        timeout_s: float,
        connect_retry_s: float = 2.0,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        self.topic = topic
        self.dlq_topic = dlq_topic
        self._timeout_s = timeout_s
        self._connect_retry_s = connect_retry_s
        self._options = producer_options(
            bootstrap_servers,
            linger_ms=_LINGER_MS,
            request_timeout_ms=max(1, int(timeout_s * 1000)),
        )
        self._producer: Any = None
        self._connecting: asyncio.Task[None] | None = None
        self._last_error = "not started"

    @classmethod
    def for_settings(cls, settings: Settings) -> KafkaNotificationPublisher:
        """The publisher of :class:`app.settings.Settings` (topic prefix, time limit)."""
        return cls(
            settings.kafka_bootstrap_servers,
            settings.topic(KEEPA_NOTIFICATIONS_TOPIC),
            settings.topic(KEEPA_WEBHOOK_DLQ_TOPIC),
            timeout_s=settings.webhook_publish_timeout_s,
        )

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        if self._connecting is None and self._producer is None:
            self._connecting = asyncio.create_task(self._connect(), name="webhook-kafka-connect")

    async def stop(self) -> None:
        task, self._connecting = self._connecting, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def _connect(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            producer = AIOKafkaProducer(**self._options)
            try:
                await producer.start()
            except asyncio.CancelledError:  # stopped while connecting
                await producer.stop()
                raise
            except (KafkaError, OSError) as exc:
                self._last_error = f"Kafka cannot be reached: {type(exc).__name__}"
                log.warning(
                    "%s (attempt %d); answering 503 and trying again in %g s",
                    self._last_error,
                    attempt,
                    self._connect_retry_s,
                )
                await producer.stop()
                await asyncio.sleep(self._connect_retry_s)
                continue
            self._producer = producer
            self._connecting = None
            log.info("connected to Kafka; publishing to %s", self.topic)
            try:
                missing = await self._missing_topics()
            except (KafkaError, OSError, TimeoutError):
                return  # /health says so
            if missing:
                log.error(
                    "topic(s) %s do not exist: notifications are answered 503 until the worker "
                    "(`arbitrage worker`), which creates them, has run",
                    ", ".join(missing),
                )
            return

    async def publish(self, notification: KeepaNotification) -> None:
        await self._send(
            self.topic, notification.asin.encode(), KEEPA_NOTIFICATION.encode(notification), ()
        )

    async def dead_letter(self, body: bytes, letter: NotificationDeadLetter) -> None:
        await self._send(self.dlq_topic, None, body, tuple(letter.headers().items()))

    async def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        producer = self._producer
        if producer is None:
            raise PublishUnavailableError(f"not connected to Kafka ({self._last_error})")
        try:
            async with asyncio.timeout(self._timeout_s):
                delivery = await producer.send(topic, value, key=key, headers=list(headers))
                # Shielded: a timeout must not cancel the producer's own future.
                await asyncio.shield(delivery)
        except TimeoutError:
            raise PublishUnavailableError(self._timeout_reason(topic)) from None
        except KafkaError as exc:
            raise PublishUnavailableError(
                f"Kafka refused the record for {topic}: {type(exc).__name__}"
            ) from None

    def _timeout_reason(self, topic: str) -> str:
        cluster = self._producer.client.cluster if self._producer is not None else None
        if cluster is not None and cluster.partitions_for_topic(topic) is None:
            return (
                f"topic {topic} is not available (it does not exist until the worker has "
                "created it, or Kafka cannot be reached)"
            )
        return f"Kafka did not acknowledge within {self._timeout_s:g} s"

    async def _missing_topics(self) -> list[str]:
        """The topics of ours the broker's metadata does not list; raises when the metadata
        cannot be read."""
        async with asyncio.timeout(self._timeout_s):
            cluster = await self._producer.client.fetch_all_metadata()
        known = cluster.topics()
        return [t for t in (self.topic, self.dlq_topic) if t not in known]

    async def health(self) -> PublisherHealth:
        if self._producer is None:
            return PublisherHealth(False, f"not connected to Kafka ({self._last_error})")
        try:
            missing = await self._missing_topics()
        except (KafkaError, OSError, TimeoutError) as exc:
            return PublisherHealth(False, f"Kafka metadata request failed: {type(exc).__name__}")
        if missing:
            return PublisherHealth(
                False,
                f"topic(s) {', '.join(missing)} do not exist (the worker creates them)",
            )
        return PublisherHealth(True, f"connected; publishing to {self.topic}")
