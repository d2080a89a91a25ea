"""The bench's Faust baselines count exactly the events of their topic, on the real broker;
the one-table baseline writes one changelog record per event."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.ingest.topic_reader import read_to_end
from devtools.bench_baselines import BaselineProcess, BaselineResult
from tests.integration.worker_process import produce
from tests.session_resources import resource_name

EVENTS = 300
PARTITIONS = 4


async def _topic_with_events(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()
    await produce(bootstrap, topic, [(f"B0BASE{i:04d}".encode(), b"{}") for i in range(EVENTS)])


@pytest.mark.integration
@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["noop", "table"])
def test_a_baseline_counts_exactly_the_events_produced(
    mode: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = resource_name("bbase")
    asyncio.run(_topic_with_events(kafka_bootstrap, topic))
    app_id = resource_name("bbase-app")
    process = BaselineProcess(mode, app_id, tmp_path, kafka_bootstrap, topic, PARTITIONS, EVENTS)
    try:
        process.start()
        first = process.wait(timeout_s=60)
        time.sleep(3)  # anything delivered twice would be counted by now
        final = BaselineResult.from_json(process.out.read_text())
    finally:
        process.stop()
    assert first.count == EVENTS
    assert final == first
    assert first.first <= first.last
    if mode == "table":
        changelog = f"{app_id}-bench-one-changelog"
        records = asyncio.run(read_to_end(kafka_bootstrap, changelog, timeout_s=30))
        assert len(records) == EVENTS
        assert {key for key, _ in records} == {f"B0BASE{i:04d}".encode() for i in range(EVENTS)}
