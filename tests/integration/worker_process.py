"""Helpers for tests on the real broker: a worker process (see devtools.worker_process), feeding it
and reading what it emits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from elasticsearch import Elasticsearch

from app.settings import Settings
from devtools.worker_process import WorkerProcess, free_port
from tests.session_resources import Owned, delete_owned_sync, resource_name

__all__ = [
    "FIXED_TIME_DATA",
    "WorkerProcess",
    "consume_until",
    "envelope_bytes",
    "events_of",
    "free_port",
    "produce",
    "started_worker",
    "wait_for",
]

#: The environment of a worker fed quotes at fixed past event times (the tests' ``T0``, days to
#: years before the wall clock): a ``STALE_AFTER_HOURS`` of ten years, so that the worker's
#: sweep does not close their routes as stale in wall-clock time (``stale_quote``) while the
#: test looks at them. The event-time and arrival rules are untouched by it as long as the
#: tests' quotes are within 24 h of each other and of their ``fetched_at``, which they are.
#: Tests of the wall-clock rule set their own value (tests/integration/test_reevaluation.py).
FIXED_TIME_DATA = {"STALE_AFTER_HOURS": "87600"}


@contextmanager
def started_worker(
    name: str,
    base: Path,
    settings: Settings,
    es: Elasticsearch,
    *,
    extra_env: dict[str, str] | None = None,
) -> Iterator[WorkerProcess]:
    """A worker process (RocksDB tables in ``base/data``, log in ``base/worker.log``) on its
    own topics and indices, started; stopped on exit and what it created deleted."""
    process = WorkerProcess(
        resource_name(name), base / "data", base / "worker.log", settings, extra_env=extra_env or {}
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()
        delete_owned_sync(settings.kafka_bootstrap_servers, es, Owned.of(process.settings))


async def produce(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def envelope_bytes(envelope: dict[str, Any]) -> tuple[bytes, bytes]:
    return envelope["product"]["asin"].encode(), orjson.dumps(envelope)


async def consume_until(
    bootstrap: str,
    topic: str,
    done: Callable[[Sequence[ConsumerRecord[bytes, bytes]]], bool],
    timeout_s: float = 60,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``topic`` from the beginning until ``done(records)`` or the timeout."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not done(records):
            if time.monotonic() > deadline:
                break
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records


def events_of(records: Iterable[ConsumerRecord[bytes, bytes]]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records if r.value is not None]


async def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.5)
