"""The API and the worker's web views, started as a user starts them, listen on 127.0.0.1
only, and answer the very healthcheck docker-compose.yml asks of them."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from app.settings import Settings
from devtools.isolation import ARBITRAGE, free_port
from devtools.stack import StackManager
from devtools.stack.processes import stop_group
from devtools.worker_process import WorkerProcess
from tests.compose_file import healthcheck_path
from tests.integration.proc import is_loopback, listening_addresses
from tests.session_resources import Owned, delete_indices, delete_owned_sync, resource_name

PLACEHOLDER = "change-me"


def _assert_loopback_only(port: int) -> None:
    addresses = listening_addresses(port)
    assert addresses, f"nothing listens on {port}"
    assert all(is_loopback(a) for a in addresses), f"{port} is reachable from outside: {addresses}"


@pytest.fixture
def api_process(
    stack: StackManager, settings: Settings, es: Elasticsearch, tmp_path: Path
) -> Iterator[tuple[int, Path]]:
    """`arbitrage api --port P` with the default bind address and the placeholder token."""
    port = free_port()
    prefix = f"{resource_name('bind')}-"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "ELASTICSEARCH_URL": settings.elasticsearch_url,
        "ELASTICSEARCH_INDEX_PREFIX": prefix,
        "API_TOKEN": PLACEHOLDER,
    }
    env.pop("API_HOST", None)
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [ARBITRAGE, "api", "--port", str(port)],
            env=env,
            cwd=tmp_path,  # no .env of the developer's
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield port, log
    finally:
        stop_group(proc.pid, timeout_s=30)
        proc.wait(10)
        delete_indices(es, Owned.indices_under(prefix))


def test_the_api_listens_on_loopback_and_refuses_the_placeholder_token(
    api_process: tuple[int, Path],
) -> None:
    port, log = api_process
    url = f"http://127.0.0.1:{port}{healthcheck_path('api')}"
    deadline = time.monotonic() + 60
    status = None
    while status != 200:
        assert time.monotonic() < deadline, f"{url} answered {status}:\n{log.read_text()}"
        try:
            status = httpx.get(url, timeout=5).status_code
        except httpx.HTTPError:
            time.sleep(0.3)
    _assert_loopback_only(port)

    write = httpx.post(
        f"http://127.0.0.1:{port}/watchlist",
        json={"asins": ["B0BINDTST1"]},
        headers={"Authorization": f"Bearer {PLACEHOLDER}"},
        timeout=10,
    )
    assert write.status_code == 503, write.text
    assert "API_TOKEN is not configured" in write.json()["detail"]
    output = log.read_text()
    assert "write endpoints disabled: API_TOKEN is a placeholder" in output
    assert PLACEHOLDER not in output


@pytest.fixture
def worker(
    stack: StackManager, settings: Settings, es: Elasticsearch, tmp_path: Path
) -> Iterator[WorkerProcess]:
    """A worker (RocksDB tables) with the default FAUST_WEB_HOST (whatever the developer's
    environment says: the child gets the settings' values pinned)."""
    default_host = Settings.model_fields["faust_web_host"].default
    base = settings.model_copy(update={"faust_web_host": default_host})
    process = WorkerProcess(resource_name("bind"), tmp_path / "data", tmp_path / "worker.log", base)
    assert process.env()["FAUST_WEB_HOST"] == "127.0.0.1"
    assert process.settings.faust_store.startswith("rocksdb")
    process.start()
    try:
        yield process
    finally:
        process.stop()
        delete_owned_sync(settings.kafka_bootstrap_servers, es, Owned.of(process.settings))


def test_the_worker_web_listens_on_loopback_and_serves_the_compose_healthcheck(
    worker: WorkerProcess,
) -> None:
    base = f"http://127.0.0.1:{worker.web_port}"
    response = httpx.get(base + healthcheck_path("worker"), timeout=10)
    assert response.status_code == 200, response.text
    assert "assigned_partitions" in response.json()
    # Faust's own /stats/ is a debug view: a production worker does not serve it.
    assert httpx.get(f"{base}/stats/", timeout=10).status_code == 404
    _assert_loopback_only(worker.web_port)
