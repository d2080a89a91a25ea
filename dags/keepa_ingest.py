"""``keepa_ingest``: fetch the due watchlist ASINs from Keepa and publish them to Kafka.

plan -> fetch_and_publish (mapped: one task per market batch of <= 100 ASINs) -> record.

Every 15 minutes (``KEEPA_INGEST_SCHEDULE``), one run at a time, no catch-up (a missed run
is not worth tokens later: the next run plans from the current state). Knobs, read when the
tasks run (Airflow Variable, else environment): ``KEEPA_TOKEN_BUDGET``, ``KEEPA_BUYBOX``,
``KEEPA_BATCH_SIZE``; the key is ``KEEPA_API_KEY`` from the environment only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, get_current_context, task
from arbitrage_dags.config import (
    DEFAULT_INGEST_SCHEDULE,
    IngestConfig,
    airflow_lookup,
    schedule_from_env,
)
from arbitrage_dags.xcom import mapped_results

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "arbitrage",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=5),
}


@dag(
    dag_id="keepa_ingest",
    schedule=schedule_from_env("KEEPA_INGEST_SCHEDULE", DEFAULT_INGEST_SCHEDULE),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=60),
    default_args=DEFAULT_ARGS,
    tags=["keepa", "ingestion"],
    doc_md=__doc__,
)
def keepa_ingest() -> None:
    @task(multiple_outputs=False, execution_timeout=timedelta(minutes=5))
    def plan() -> list[dict[str, Any]]:
        from arbitrage_dags.ingest import es_client, plan_batches

        from app.settings import Settings

        settings = Settings()
        with es_client(settings) as es:
            return plan_batches(es, settings, IngestConfig.load(airflow_lookup), datetime.now(UTC))

    @task(
        multiple_outputs=False, execution_timeout=timedelta(minutes=30), max_active_tis_per_dagrun=2
    )
    def fetch_and_publish(batch: dict[str, Any]) -> dict[str, Any]:
        from arbitrage_dags.ingest import fetch_and_publish as run

        from app.settings import Settings

        return run(batch, Settings(), IngestConfig.load(airflow_lookup))

    @task(
        multiple_outputs=False, trigger_rule="none_failed", execution_timeout=timedelta(minutes=5)
    )
    def record(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        from arbitrage_dags.ingest import es_client, record_run

        from app.settings import Settings

        context = get_current_context()
        settings = Settings()
        with es_client(settings) as es:
            summary = record_run(
                mapped_results(outcomes),
                es,
                settings,
                dag_id=context["dag"].dag_id,
                run_id=context["run_id"],
                now=datetime.now(UTC),
            )
        return summary.to_document()

    record(fetch_and_publish.expand(batch=plan()))


keepa_ingest()
