"""The EUR/GBP rate in force, for processes without Faust (the Airflow scheduler).

The worker keeps the rate in its ``fx-rates`` table, fed from the compacted ``fx.rates``
topic. A process without Faust reads the same topic from the beginning and folds it with the
same function (:func:`app.ingest.fx.latest_rate`), so it ends with the rate the worker holds.
Before any rate was published (no topic, or no usable message) the fallback is the worker's:
``FX_GBP_EUR`` as of the epoch (:func:`app.policy_config.configured_fx`). A broker that cannot
be read raises (a rate is never guessed while one may have been published).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from app.domain.fx import FxRates
from app.ingest.fx import FX_RATES_TOPIC, latest_rate
from app.policy_config import configured_fx
from app.settings import Settings

__all__ = ["read_rate_in_force", "read_rate_in_force_async"]

log = logging.getLogger(__name__)

_UNKNOWN_TOPIC_OR_PARTITION: Final = 3


async def read_rate_in_force_async(settings: Settings, *, timeout_s: float = 30.0) -> FxRates:
    """The newest usable rate on ``fx.rates``, else the configured one (see the module doc).

    Raises ``TimeoutError`` when the topic could not be read to its end within ``timeout_s``
    and aiokafka's errors when the broker cannot be reached.
    """
    topic = settings.topic(FX_RATES_TOPIC)
    deadline = time.monotonic() + timeout_s
    partitions = await _partitions(settings.kafka_bootstrap_servers, topic, timeout_s)
    messages: list[tuple[bytes | None, Any]] = []
    if partitions:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=int(timeout_s * 1000),
        )
        await consumer.start()
        try:
            messages = await _read_to_end(consumer, partitions, deadline)
        finally:
            await consumer.stop()
    rate = latest_rate(messages)
    if rate is None:
        fallback = configured_fx(settings)
        log.info(
            "no usable rate on %s (%d messages): EUR per GBP is the configured %s",
            topic,
            len(messages),
            fallback.eur_per_gbp,
        )
        return fallback
    log.info("EUR per GBP is %s (as of %s) from %s", rate.eur_per_gbp, rate.as_of, topic)
    return rate


def read_rate_in_force(settings: Settings, *, timeout_s: float = 30.0) -> FxRates:
    """Synchronous :func:`read_rate_in_force_async` (not from inside a running event loop)."""
    return asyncio.run(read_rate_in_force_async(settings, timeout_s=timeout_s))


async def _partitions(bootstrap: str, topic: str, timeout_s: float) -> list[TopicPartition]:
    """The topic's partitions; ``[]`` when it does not exist (nothing was ever published)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    error = described["error_code"]
    if error == _UNKNOWN_TOPIC_OR_PARTITION:
        return []
    if error != 0:
        raise KafkaError(f"cannot describe {topic}: error {error}")
    return [TopicPartition(topic, p["partition"]) for p in described["partitions"]]


async def _read_to_end(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], deadline: float
) -> list[tuple[bytes | None, Any]]:
    """Every ``(key, value)`` of ``partitions``, in offset order per partition."""
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    ends = await consumer.end_offsets(partitions)
    messages: list[tuple[bytes | None, Any]] = []
    for tp in sorted(partitions):
        while await consumer.position(tp) < ends[tp]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{tp.topic} could not be read to its end in time")
            batch = await consumer.getmany(tp, timeout_ms=int(min(remaining, 1.0) * 1000))
            messages.extend((record.key, record.value) for record in batch.get(tp, []))
    return messages
