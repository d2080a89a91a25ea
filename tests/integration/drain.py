"""Waiting until a worker has processed everything: its consumer group's committed offsets have
reached the end offsets of every topic it consumes (:func:`devtools.kafka_offsets.wait_drained`).

A fixed sleep before counting documents proves nothing (a slow run passes a duplicate check
that a later redelivery would fail); this proves the pipeline drained: the detector committed
``keepa.products`` (Faust flushes what it produced before it commits), and the sink and alerts
agents committed ``arbitrage.observations`` / ``arbitrage.opportunities`` up to their ends (the
sink acknowledges a batch only once Elasticsearch accepted it).

The committed offsets are read before the end offsets: if they still reach the ends, every
record that existed when the commits were read, including everything the upstream agents
produced before committing their input, was processed.
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from devtools.kafka_offsets import WORKER_INPUTS, consumer_lag, wait_drained
from devtools.worker_process import WorkerProcess

__all__ = [
    "WORKER_INPUTS",
    "consumer_lag",
    "wait_committed_after_now",
    "wait_drained",
    "wait_worker_drained",
]


async def wait_committed_after_now(worker: WorkerProcess, timeout_s: float = 60) -> None:
    """Return once the worker has run an offset commit that started after this call: it
    publishes a record the detector dead-letters (not JSON; nothing else happens) and waits
    until the group has committed it. Faust commits every acknowledged partition together, so
    whatever the worker had acknowledged before is committed by then too: the condition to
    wait for before checking that something was *not* committed."""
    s = worker.settings
    topic = s.topic("keepa.products")
    producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"commit marker: not JSON", key=b"B0MARKER00")
    finally:
        await producer.stop()
    await wait_drained(s.kafka_bootstrap_servers, s.faust_app_id, [topic], timeout_s)


async def wait_worker_drained(worker: WorkerProcess, timeout_s: float = 120) -> None:
    """:func:`wait_drained` for a worker: its consumer group (the Faust app id) on its inputs."""
    s = worker.settings
    topics = [s.topic(name) for name in WORKER_INPUTS]
    try:
        await wait_drained(s.kafka_bootstrap_servers, s.faust_app_id, topics, timeout_s)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker stats: {worker.stats()}\n{worker.tail()}") from None
