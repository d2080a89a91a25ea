"""One real worker for the API tests (session-wide): the data set of api_dataset.py is
produced to it and waited for in Elasticsearch; its topics and indices are deleted at the end."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from api_dataset import TOKEN, indexed, messages
from elasticsearch import Elasticsearch
from pydantic import SecretStr

from app.settings import Settings
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import FIXED_TIME_DATA, WorkerProcess, produce
from tests.session_resources import Owned, delete_owned_sync, resource_name


@pytest.fixture(scope="session")
def api_worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    """A worker with its own prefixes that has indexed :func:`api_dataset.messages`."""
    base = tmp_path_factory.mktemp("api")
    worker = WorkerProcess(
        resource_name("api"),
        base / "data",
        base / "worker.log",
        settings,
        extra_env=FIXED_TIME_DATA,
    )
    try:
        worker.start()

        async def feed() -> None:
            await produce(
                settings.kafka_bootstrap_servers,
                worker.settings.topic("keepa.products"),
                messages(),
            )
            await wait_worker_drained(worker, timeout_s=90)

        asyncio.run(feed())
        assert indexed(es, worker.settings), f"worker did not index the data: {worker.tail()}"
        yield worker
    finally:
        worker.stop()
        delete_owned_sync(settings.kafka_bootstrap_servers, es, Owned.of(worker.settings))


@pytest.fixture(scope="session")
def api_settings(api_worker: WorkerProcess) -> Settings:
    """The worker's settings (same prefixes) with a write token."""
    return api_worker.settings.model_copy(update={"api_token": SecretStr(TOKEN)})
