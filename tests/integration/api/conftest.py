"""One real worker for the API tests (session-wide): the data set of api_dataset.py is
produced to it and waited for in Elasticsearch; its indices are deleted at the end."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from api_dataset import TOKEN, indexed, messages
from elasticsearch import Elasticsearch
from pydantic import SecretStr

from app.settings import Settings
from tests.integration.worker_process import WorkerProcess, produce


@pytest.fixture(scope="session")
def api_worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    """A worker with its own prefixes that has indexed :func:`api_dataset.messages`."""
    base = tmp_path_factory.mktemp("api")
    worker = WorkerProcess(
        f"api{uuid.uuid4().hex[:8]}", base / "data", base / "worker.log", settings
    )
    worker.start()
    try:
        asyncio.run(
            produce(
                settings.kafka_bootstrap_servers,
                worker.settings.topic("keepa.products"),
                messages(),
            )
        )
        deadline = time.monotonic() + 90
        while not indexed(es, worker.settings):
            if time.monotonic() > deadline:
                raise AssertionError(f"worker did not index the data: {worker.tail()}")
            time.sleep(0.5)
        yield worker
    finally:
        worker.stop()
        prefix = worker.settings.elasticsearch_index_prefix
        for name in es.indices.get(index=f"{prefix}*", allow_no_indices=True):
            es.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture(scope="session")
def api_settings(api_worker: WorkerProcess) -> Settings:
    """The worker's settings (same prefixes) with a write token."""
    return api_worker.settings.model_copy(update={"api_token": SecretStr(TOKEN)})
