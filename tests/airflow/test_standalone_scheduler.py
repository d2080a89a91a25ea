"""keepa_ingest under a real Airflow: ``airflow standalone`` (scheduler, DAG processor, API
server, triggerer, LocalExecutor) started the way ``make airflow`` starts it, in a throw-away
AIRFLOW_HOME, with Keepa faked by a real local HTTP server speaking Keepa's JSON format.

The test triggers a run through the REST API (logged in with the generated admin password),
waits for it, checks the envelopes on the real Kafka topic and the run's ``ingest-runs``
document in the real Elasticsearch, then stops the launcher with SIGTERM and asserts that no
process of it is left. Topic and index prefixes are unique and set for the subprocess only.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
import requests
from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import AsyncElasticsearch, Elasticsearch

from app.domain.markets import Market
from app.domain.watchlist import WatchlistEntry
from app.es.indices import ensure_indices
from app.ingest.runs import INGEST_RUNS
from app.ingest.watchlist import WatchlistStore
from app.settings import Settings
from devtools.airflow_standalone import PASSWORD_FILE, PID_FILE
from devtools.isolation import child_env, free_port, isolated_settings
from devtools.stack.processes import session_pids, stop_session
from tests.airflow.airflow_support import REPO, cleanup, read_topic
from tests.airflow.keepa_fake import FakeKeepa
from tests.unit.keepa.keepa_fakes import API_KEY

#: From the start to the run's end; measured: 3 min on 2 cores busy with other test suites
#: (load 7), most of it the components starting and the DAGs being parsed.
BUDGET_S = 420.0
STOP_TIMEOUT_S = 90.0

WATCHLIST = [
    WatchlistEntry("B0SA000001", markets=("DE", "GB")),
    WatchlistEntry("B0SA000002", markets=("DE", "FR")),
    WatchlistEntry("B0SA000003", markets=("DE",)),
]
EXPECTED = {(e.asin, m) for e in WATCHLIST for m in e.markets}

T = TypeVar("T")


def _wait_for(
    what: str, check: Callable[[], T | None], deadline: float, alive: Callable[[], None]
) -> T:
    while time.monotonic() < deadline:
        alive()
        try:
            value = check()
        except requests.RequestException:
            value = None
        if value is not None:
            return value
        time.sleep(1.0)
    raise AssertionError(f"out of time ({BUDGET_S:.0f} s in all) waiting for {what}")


class Api:
    """Airflow's REST API (v2) as the admin user."""

    def __init__(self, base: str, password: str) -> None:
        self.base = base
        self.http = requests.Session()
        response = self.http.post(
            f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30
        )
        response.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def get(self, path: str) -> Any:
        response = self.http.get(f"{self.base}/api/v2/{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        response = self.http.request(method, f"{self.base}/api/v2/{path}", json=body, timeout=30)
        assert response.ok, (response.status_code, response.text)
        return response.json()


def _prepare(settings: Settings, es: Elasticsearch) -> None:
    """Indices and the watchlist; deliberately no topic: no worker has run yet."""

    async def indices() -> None:
        async with AsyncElasticsearch(settings.elasticsearch_url) as client:
            await ensure_indices(client, settings)

    asyncio.run(indices())
    assert WatchlistStore(es, settings).add(WATCHLIST) == len(WATCHLIST)


def _partitions(bootstrap: str, topic: str) -> int:
    async def describe() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (meta,) = await admin.describe_topics([topic])
            return len(meta["partitions"])
        finally:
            await admin.close()

    return asyncio.run(describe())


def _subprocess_env(home: Path, settings: Settings, keepa_url: str, port: int) -> dict[str, str]:
    """The child environment of ``settings`` (devtools.isolation), without the Airflow
    settings of this test process, plus this test's Airflow and Keepa settings."""
    ours = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "PYTHONUNBUFFERED": "1",
        "KEEPA_API_KEY": API_KEY,
        "KEEPA_API_URL": keepa_url,
        "KEEPA_BATCH_SIZE": "2",
        "KEEPA_WEBHOOK_URL": "",  # push tracking off (sync_trackings skips), whatever the shell has
        # Feb 29: no scheduled run before 2028, only the one this test triggers.
        "KEEPA_INGEST_SCHEDULE": "0 0 29 2 *",
    }
    env = child_env(settings, ours)
    return {k: v for k, v in env.items() if not k.startswith("AIRFLOW") or k in ours}


@pytest.fixture
def standalone_settings(
    settings: Settings, es: Elasticsearch, unique: str, tmp_path: Path
) -> Iterator[Settings]:
    """Own topics and indices for the subprocess; deleted afterwards."""
    own = isolated_settings(settings, f"afsa-{unique}", tmp_path / "faust")
    yield own
    cleanup(es, own)


@pytest.mark.timeout(BUDGET_S + STOP_TIMEOUT_S + 60)
def test_keepa_ingest_under_a_real_scheduler(
    standalone_settings: Settings, es: Elasticsearch, tmp_path: Path
) -> None:
    settings = standalone_settings
    _prepare(settings, es)
    home = tmp_path / "airflow"
    log_path = tmp_path / "standalone.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    keepa = FakeKeepa()
    logical_date = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    run_id = f"e2e-{settings.elasticsearch_index_prefix.strip('-')}"

    with keepa.serve() as keepa_url, log_path.open("wb") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "devtools.airflow_standalone", "run"],
            env=_subprocess_env(home, settings, keepa_url, port),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + BUDGET_S
        standalone_sid: int | None = None

        def alive() -> None:
            if launcher.poll() is not None:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise AssertionError(f"the launcher exited ({launcher.returncode}):\n{tail}")

        try:
            standalone_sid = _wait_for("the pid file", lambda: _session(home), deadline, alive)
            _wait_for("healthy components", lambda: _healthy(base), deadline, alive)
            # The generated admin password is where the README says it is.
            password = orjson.loads((home / PASSWORD_FILE).read_bytes())["admin"]
            api = Api(base, password)
            dags = _wait_for(
                "the parsed DAGs",
                lambda: _dag_ids(api) if "keepa_ingest" in _dag_ids(api) else None,
                deadline,
                alive,
            )
            assert set(dags) == {"keepa_ingest", "keepa_gapfill", "watchlist_discovery", "fx_rates"}
            assert api.get("importErrors")["total_entries"] == 0

            api.send("PATCH", "dags/keepa_ingest", {"is_paused": False})
            api.send(
                "POST",
                "dags/keepa_ingest/dagRuns",
                {"dag_run_id": run_id, "logical_date": logical_date.isoformat()},
            )
            state = _wait_for("the run to finish", lambda: _finished(api, run_id), deadline, alive)
            tasks = api.get(f"dags/keepa_ingest/dagRuns/{run_id}/taskInstances")
            states = {(t["task_id"], t["map_index"]): t["state"] for t in tasks["task_instances"]}
            assert state == "success", states
            # configure, plan, record, one mapped task per batch (DE 2, FR 1, GB 1) and
            # sync_trackings (skipped inside: no KEEPA_WEBHOOK_URL, the task succeeds).
            assert sorted(states) == [
                ("configure", -1),
                ("fetch_and_publish", 0),
                ("fetch_and_publish", 1),
                ("fetch_and_publish", 2),
                ("fetch_and_publish", 3),
                ("plan", -1),
                ("record", -1),
                ("sync_trackings", -1),
            ]
            runs = api.get("dags/keepa_ingest/dagRuns")["dag_runs"]
            assert [r["dag_run_id"] for r in runs] == [run_id]  # nothing scheduled besides

            # No worker ever ran: plan created the topic with the app's partition count.
            topic = settings.topic("keepa.products")
            assert _partitions(settings.kafka_bootstrap_servers, topic) == (
                settings.topic_partitions
            )
            records = read_topic(
                settings.kafka_bootstrap_servers, topic, partitions=settings.topic_partitions
            )
            published = Counter(
                (
                    r.key.decode(),
                    Market.from_keepa_domain_id(orjson.loads(r.value)["product"]["domainId"]).value,
                )
                for r in records
                if r.key is not None
            )
            assert set(published) == EXPECTED
            assert max(published.values()) == 1
            assert keepa.errors == []

            index = settings.index(INGEST_RUNS)
            es.indices.refresh(index=index)
            doc = es.get(index=index, id=f"keepa_ingest:{run_id}")["_source"]
            assert doc["planned_at"] == logical_date.isoformat().replace("+00:00", "Z")
            assert (doc["batches"], doc["failed_batches"], doc["attempts"]) == (4, 0, 4)
            assert doc["envelopes_published"] == len(EXPECTED)
            assert doc["tokens_consumed"] == keepa.tokens_charged == len(EXPECTED)
            assert doc["tokens_left"] == keepa.tokens_left
        finally:
            stopped = _stop(launcher)
            leftovers = [] if standalone_sid is None else session_pids(standalone_sid)
            if leftovers:  # do not leave them to the next test, then fail
                stop_session(standalone_sid or 0, timeout_s=10)
            stop_session(launcher.pid, timeout_s=10)

    assert stopped == 128 + signal.SIGTERM, log_path.read_text(errors="replace")[-3000:]
    assert leftovers == []
    assert not (home / PID_FILE).exists()
    for path in [log_path, *home.rglob("*")]:
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path


def _session(home: Path) -> int | None:
    """The standalone's session id, from the launcher's pid file once it is written."""
    try:
        return int((home / PID_FILE).read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _healthy(base: str) -> bool | None:
    health = requests.get(f"{base}/api/v2/monitor/health", timeout=10).json()
    components = ("metadatabase", "scheduler", "dag_processor", "triggerer")
    return True if all(health[c]["status"] == "healthy" for c in components) else None


def _dag_ids(api: Api) -> list[str]:
    return [d["dag_id"] for d in api.get("dags")["dags"]]


def _finished(api: Api, run_id: str) -> str | None:
    state = str(api.get(f"dags/keepa_ingest/dagRuns/{run_id}")["state"])
    return state if state in {"success", "failed"} else None


def _stop(launcher: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM to the launcher, as `kill` or a process manager would; its exit status."""
    if launcher.poll() is None:
        launcher.send_signal(signal.SIGTERM)
    try:
        return launcher.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None
