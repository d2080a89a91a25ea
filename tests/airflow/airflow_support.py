"""Helpers of the Airflow tests: paths, loading and running a DAG, reading a topic back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"


def load_dag(dag_id: str) -> Any:
    """The DAG ``dag_id`` as the DAG processor would load it from dags/."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}, bag.import_errors
    dag = bag.dags.get(dag_id)
    assert dag is not None, f"no DAG {dag_id} in {sorted(bag.dag_ids)}"
    return dag


def run_dag(dag_id: str) -> tuple[Any, dict[str, str]]:
    """``dag.test()`` of ``dag_id``; the DagRun and the final state of every task instance."""
    dag = load_dag(dag_id)
    dag_run = dag.test()
    states = {
        (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(ti.state)
        for ti in dag_run.get_task_instances()
    }
    return dag_run, states


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    partitions: int,
    expected: int,
    timeout_s: float = 30.0,
    settle_s: float = 1.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of the ``partitions`` partitions of ``topic`` from the beginning: waits
    for ``expected`` records, then ``settle_s`` more to catch any surplus (duplicates)."""
    return asyncio.run(_read_topic(bootstrap, topic, partitions, expected, timeout_s, settle_s))


async def _read_topic(
    bootstrap: str, topic: str, partitions: int, expected: int, timeout_s: float, settle_s: float
) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        deadline = time.monotonic() + timeout_s
        settle_until: float | None = None
        while time.monotonic() < deadline:
            if len(records) >= expected and settle_until is None:
                settle_until = time.monotonic() + settle_s
            if settle_until is not None and time.monotonic() >= settle_until:
                break
            batch = await consumer.getmany(timeout_ms=200)
            for items in batch.values():
                records.extend(items)
    finally:
        await consumer.stop()
    return records


async def delete_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()
