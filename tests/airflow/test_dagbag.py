"""Every DAG in dags/ imports in the Airflow environment, with the expected shape."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag

from tests.airflow.airflow_support import DAGS

EXPECTED = {
    "keepa_ingest": (
        "*/15 * * * *",
        {"configure", "plan", "fetch_and_publish", "record", "sync_trackings"},
        "fetch_and_publish",
    ),
    "watchlist_discovery": ("@daily", {"targets", "discover", "add_new"}, "discover"),
    "fx_rates": ("30 16 * * 1-5", {"fetch_rate", "publish_rate"}, None),
    "keepa_gapfill": ("*/5 * * * *", {"gap_fill"}, None),
}


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_dags_import_without_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == set(EXPECTED)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_dag_shape(dagbag: DagBag, dag_id: str) -> None:
    schedule, task_ids, mapped = EXPECTED[dag_id]
    dag = dagbag.dags.get(dag_id)
    assert dag is not None
    assert dag.schedule == schedule
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert set(dag.task_ids) == task_ids
    for task in dag.tasks:
        assert task.retries >= 3, task.task_id
        assert task.retry_exponential_backoff == 2.0
        assert task.max_retry_delay is not None
    mapped_tasks = {t.task_id for t in dag.tasks if _is_mapped(t)}
    assert mapped_tasks == ({mapped} if mapped else set())


def test_keepa_ingest_wiring(dagbag: DagBag) -> None:
    dag = dagbag.dags.get("keepa_ingest")
    assert dag is not None
    # The knobs are read once per run (configure) and reach plan and every mapped task.
    assert dag.get_task("plan").upstream_task_ids == {"configure"}
    assert dag.get_task("fetch_and_publish").upstream_task_ids == {"configure", "plan"}
    record = dag.get_task("record")
    assert record.upstream_task_ids == {"fetch_and_publish"}
    # An empty plan skips the mapped task, failed batches fail it: the run is recorded anyway.
    assert record.trigger_rule == "all_done"
    assert dag.get_task("fetch_and_publish").execution_timeout == timedelta(minutes=30)
    # Push trackings are synced after planning, beside the fetches.
    assert dag.get_task("sync_trackings").upstream_task_ids == {"plan"}


def test_schedule_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPA_INGEST_SCHEDULE", "*/5 * * * *")
    dag = DagBag(dag_folder=str(DAGS / "keepa_ingest.py")).dags.get("keepa_ingest")
    assert dag is not None
    assert dag.schedule == "*/5 * * * *"


def _is_mapped(task: Any) -> bool:
    return type(task).__name__ == "MappedOperator" or bool(getattr(task, "is_mapped", False))
