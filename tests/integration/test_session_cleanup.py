"""The cleanup of tests/session_resources.py on the real stack: it deletes every topic and index
a run created (Faust's internal topics included) and nothing else.

The stack is shared (other runs may create and delete their own names meanwhile), so "what the
run created" is what appeared during the test under the run's name, found by substring, a
wider net than the prefixes the cleanup matches; the neighbours are names it must not take.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from elasticsearch import Elasticsearch

from app.domain.markets import Market
from app.settings import Settings
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import FIXED_TIME_DATA, WorkerProcess, envelope_bytes, produce
from tests.keepa_factory import envelope, keepa_product
from tests.session_resources import (
    Owned,
    delete_owned,
    delete_topics,
    list_indices,
    list_topics,
    resource_name,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
async def neighbours(kafka_bootstrap: str, es: Elasticsearch) -> AsyncIterator[list[str]]:
    """Creates the given names as topics and indices at the test's request; deletes them after."""
    names: list[str] = []
    yield names
    for name in names:
        es.options(ignore_status=404).indices.delete(index=name)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if gone := [n for n in names if n in existing]:
            await admin.delete_topics(gone)
    finally:
        await admin.close()


async def create(bootstrap: str, es: Elasticsearch, topics: list[str], indices: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in topics])
    finally:
        await admin.close()
    for index in indices:
        es.indices.create(index=index)


async def test_cleanup_deletes_what_a_run_created_and_nothing_else(
    tmp_path: Path,
    settings: Settings,
    kafka_bootstrap: str,
    es: Elasticsearch,
    neighbours: list[str],
) -> None:
    topics_before, indices_before = await list_topics(kafka_bootstrap), list_indices(es)
    name = resource_name("run")
    # A run: a real worker with its own prefixes, fed one event, fully drained, stopped.
    worker = WorkerProcess(
        name, tmp_path / "data", tmp_path / "w.log", settings, extra_env=FIXED_TIME_DATA
    )
    try:
        worker.start()
        product = keepa_product("B0CLEANUP1", Market.DE, amazon=2000, last_update=T0)
        await produce(
            kafka_bootstrap,
            worker.settings.topic("keepa.products"),
            [envelope_bytes(envelope(product, T0 + timedelta(minutes=1)))],
        )
        await wait_worker_drained(worker)
    finally:
        worker.stop()
    # Its neighbours: another run whose name starts like this one, names that contain it
    # elsewhere than at the start (the developer's names have no prefix at all).
    neighbour_topics = [
        f"{name}x.keepa.products",
        f"x{name}.keepa.products",
        f"arbitrage-{name}x-t",
    ]
    neighbour_indices = [f"{name}x-products", f"x{name}-products"]
    neighbours += neighbour_topics + neighbour_indices
    await create(kafka_bootstrap, es, neighbour_topics, neighbour_indices)

    created_topics = {t for t in await list_topics(kafka_bootstrap) - topics_before if name in t}
    created_indices = {i for i in list_indices(es) - indices_before if name in i}
    run_topics = created_topics - set(neighbour_topics)
    run_indices = created_indices - set(neighbour_indices)
    assert f"{name}.keepa.products" in run_topics
    assert f"arbitrage-{name}-quotes-changelog" in run_topics  # Faust's internal topics too
    assert f"{name}-products" in run_indices

    deleted = await delete_owned(kafka_bootstrap, es, Owned.of(worker.settings))

    assert set(deleted.topics) == run_topics
    assert set(deleted.indices) == run_indices
    topics_after, indices_after = await list_topics(kafka_bootstrap), list_indices(es)
    assert not run_topics & topics_after
    assert not run_indices & indices_after
    assert set(neighbour_topics) <= topics_after
    assert set(neighbour_indices) <= indices_after
    assert not set(deleted.topics) & topics_before  # nothing that existed before the run
    assert not set(deleted.indices) & indices_before


async def test_the_session_cleanup_takes_only_this_sessions_names(
    kafka_bootstrap: str, es: Elasticsearch, neighbours: list[str]
) -> None:
    """A mock-free look at the session's own matcher on the live stack: whatever is listed
    now, it only takes names under the session prefix, and no one else's."""
    ours = resource_name("mine")
    foreign = f"pytest-ffffffff-{ours.split('-', 2)[2]}"  # another session, same suffix
    neighbours += [f"{ours}.t", foreign + ".t", f"{ours}-i", foreign + "-i"]
    await create(kafka_bootstrap, es, [f"{ours}.t", foreign + ".t"], [f"{ours}-i", foreign + "-i"])
    session = Owned.session()
    topics, indices = await list_topics(kafka_bootstrap), list_indices(es)
    assert f"{ours}.t" in session.topics(topics)
    assert f"{ours}-i" in session.indices(indices)
    assert foreign + ".t" not in session.topics(topics)
    assert foreign + "-i" not in session.indices(indices)
    assert all(t.startswith(("pytest-", "arbitrage-pytest-")) for t in session.topics(topics))
    assert await asyncio.wait_for(delete_topics(kafka_bootstrap, Owned((f"{ours}.",), ())), 60) == [
        f"{ours}.t"
    ]
