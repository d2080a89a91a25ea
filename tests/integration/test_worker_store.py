"""Integration workers run with RocksDB, as in production: the worker says so in its stats
view, its tables keep their state on disk, and a worker on another store is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from elasticsearch import Elasticsearch
from rocksdict import AccessType, Options, Rdict

from app.domain.markets import Market
from app.settings import Settings
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import WorkerProcess, envelope_bytes, produce
from tests.keepa_factory import envelope, keepa_product
from tests.session_resources import Owned, delete_owned_sync, resource_name

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def workers(tmp_path: Path, settings: Settings, es: Elasticsearch) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
        delete_owned_sync(settings.kafka_bootstrap_servers, es, Owned.of(worker.settings))


def test_a_worker_runs_rocksdb_even_when_the_settings_say_memory(
    tmp_path: Path, settings: Settings, workers: list[WorkerProcess]
) -> None:
    memory = settings.model_copy(update={"faust_store": "memory://"})
    worker = WorkerProcess(resource_name("store"), tmp_path / "data", tmp_path / "w.log", memory)
    workers.append(worker)
    worker.start()
    product = keepa_product("B0STORE001", Market.DE, amazon=2000, last_update=T0)
    asyncio.run(
        produce(
            settings.kafka_bootstrap_servers,
            worker.settings.topic("keepa.products"),
            [envelope_bytes(envelope(product, T0 + timedelta(minutes=1)))],
        )
    )
    asyncio.run(wait_worker_drained(worker))

    stats: dict[str, Any] = httpx.get(
        f"http://127.0.0.1:{worker.web_port}/arbitrage/stats/", timeout=5
    ).json()
    assert stats["store"] == "rocksdb://"
    assert stats["table_stores"] == {
        "quotes": "rocksdb://",
        "open-opportunities": "rocksdb://",
        "fx-rates": "rocksdb://",
        "seller-profile": "rocksdb://",
    }
    # The quote really is in RocksDB, on disk: read it back once the worker has stopped.
    worker.stop()
    databases = sorted(worker.data_dir.glob("v1/tables/quotes-*.db"))
    assert databases, f"no RocksDB database of the quotes table in {worker.data_dir}"
    values = [v for db in databases if (v := read_rocksdb(db, b"B0STORE001")) is not None]
    assert len(values) == 1  # in the one partition the key belongs to
    assert b'"DE"' in values[0]  # the quotes of the ASIN by market


def read_rocksdb(path: Path, key: bytes) -> bytes | None:
    db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        value = db.get(key)
        return bytes(value) if value is not None else None
    finally:
        db.close()


def test_start_refuses_a_worker_that_does_not_run_rocksdb(
    tmp_path: Path, settings: Settings, workers: list[WorkerProcess]
) -> None:
    # The child's environment overridden behind WorkerProcess's back: it must notice.
    worker = WorkerProcess(
        resource_name("store"),
        tmp_path / "data",
        tmp_path / "w.log",
        settings,
        extra_env={"FAUST_STORE": "memory://"},
    )
    workers.append(worker)
    with pytest.raises(RuntimeError, match=r"'quotes': 'memory://'.*expected rocksdb://"):
        worker.start()
    assert not worker.alive()
