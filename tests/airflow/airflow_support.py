"""Helpers of the Airflow tests: paths, loading and running a DAG, reading a topic back."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from elasticsearch import Elasticsearch

from app.settings import Settings
from tests.env_guard import preserved_environment

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


def run_dag(
    dag_id: str,
    *,
    retries: int | None = None,
    logical_date: datetime | None = None,
) -> tuple[Any, dict[str, str]]:
    """``dag.test()`` of ``dag_id``; the DagRun and the final state of every task instance.

    ``retries`` replaces every task's retries and retries at once (no delay) when given.
    """
    dag = load_dag(dag_id)
    if retries is not None:
        for task in dag.tasks:
            task.retries = retries
            task.retry_delay = timedelta(0)
            task.retry_exponential_backoff = 0
    # dag.test() sets AIRFLOW_CTX_* in os.environ for the task it runs; keep them in here.
    with preserved_environment():
        dag_run = dag.test() if logical_date is None else dag.test(logical_date=logical_date)
    states = {
        (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(ti.state)
        for ti in dag_run.get_task_instances()
    }
    return dag_run, states


def read_topic(
    bootstrap: str, topic: str, *, partitions: int, timeout_s: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of the ``partitions`` partitions of ``topic``, from the beginning up to
    the end offsets the broker reports when this is called.

    Call it once the producers are done (the DAG run finished: every publish was
    acknowledged): reaching those end offsets proves the topic was read to its end, so a
    duplicate cannot arrive later. No fixed wait. ``TimeoutError`` if the end is not reached.
    """
    return asyncio.run(_read_topic(bootstrap, topic, partitions, timeout_s))


async def _read_topic(
    bootstrap: str, topic: str, partitions: int, timeout_s: float
) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        deadline = time.monotonic() + timeout_s
        while True:
            positions = {tp: await consumer.position(tp) for tp in assigned}
            if all(positions[tp] >= end for tp, end in ends.items()):
                break
            if time.monotonic() > deadline:
                read = {tp.partition: p for tp, p in positions.items()}
                end = {tp.partition: e for tp, e in ends.items()}
                raise TimeoutError(f"{topic}: read up to {read} in {timeout_s} s, ends at {end}")
            batch = await consumer.getmany(*assigned, timeout_ms=200)
            for tp, items in batch.items():
                records.extend(r for r in items if r.offset < ends[tp])
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


def cleanup(es: Elasticsearch, settings: Settings) -> None:
    """Delete the indices and topics of ``settings``' prefixes (the topics also when the
    indices cannot be deleted, e.g. while Elasticsearch restarts)."""
    try:
        pattern = f"{settings.elasticsearch_index_prefix}*"
        indices = list(es.indices.get(index=pattern, allow_no_indices=True))
        if indices:
            es.indices.delete(index=",".join(indices))
    finally:
        asyncio.run(delete_topics(settings.kafka_bootstrap_servers, settings.topic_prefix))
