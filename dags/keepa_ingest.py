"""``keepa_ingest``: fetch the due watchlist ASINs from Keepa and publish them to Kafka.

configure -> plan -> fetch_and_publish (mapped: one task per market batch of <= 100 ASINs)
-> record; plan -> sync_trackings (Keepa's push trackings follow the watchlist's break-even
thresholds: docs/tracking.md; skipped, with a log line, without ``KEEPA_WEBHOOK_URL``).

Every 15 minutes (``KEEPA_INGEST_SCHEDULE``), one run at a time, no catch-up (a missed run
is not worth tokens later: the next run plans from the current state). ``configure`` reads
the knobs once per run (Airflow Variable, else environment: ``KEEPA_TOKEN_BUDGET``,
``KEEPA_BUYBOX``, ``KEEPA_BATCH_SIZE``) and hands them to the other tasks; the key is
``KEEPA_API_KEY`` from the environment only. ``plan`` makes sure the ``keepa.products``
topic exists (creating it like the worker would) before a token is spent, and plans for the
run's data interval, not the clock: a cleared run plans the same way. It plans the pending
fetch requests (``keepa.fetch_requests``: Keepa notifications for a market without a quote)
first; the batch that publishes a requested pair marks its request done. Every try of a batch
writes its token use to ``ingest-attempts``; ``record`` runs even when batches failed,
writes the run (every token spent, failed batches) to ``ingest-runs``, then fails the run
if a batch failed.
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

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "arbitrage",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=5),
}


def _planning_time(context: Any) -> datetime:
    from arbitrage_dags.ingest import planning_time

    return planning_time(
        data_interval_end=context.get("data_interval_end"),
        logical_date=context.get("logical_date"),
        run_after=getattr(context.get("dag_run"), "run_after", None),
    )


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
    @task(multiple_outputs=False, execution_timeout=timedelta(minutes=2))
    def configure() -> dict[str, Any]:
        return IngestConfig.load(airflow_lookup).to_dict()

    @task(multiple_outputs=False, execution_timeout=timedelta(minutes=5))
    def plan(config: dict[str, Any]) -> list[dict[str, Any]]:
        from arbitrage_dags.ingest import (
            ensure_products_topic,
            es_client,
            pending_fetch_requests,
            plan_batches,
            require_api_key,
        )

        from app.settings import Settings

        settings = Settings()
        ensure_products_topic(settings)
        now = _planning_time(get_current_context())
        requests = pending_fetch_requests(settings)
        with es_client(settings) as es:
            batches = plan_batches(es, settings, IngestConfig.from_dict(config), now, requests)
        if batches:
            require_api_key(settings)
        return batches

    @task(
        multiple_outputs=False, execution_timeout=timedelta(minutes=30), max_active_tis_per_dagrun=2
    )
    def fetch_and_publish(batch: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        from arbitrage_dags.ingest import es_client
        from arbitrage_dags.ingest import fetch_and_publish as run

        from app.ingest.runs import AttemptKey
        from app.settings import Settings

        context = get_current_context()
        ti = context["ti"]
        attempt = AttemptKey(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            map_index=int(ti.map_index if ti.map_index is not None else -1),
            try_number=int(ti.try_number),
        )
        settings = Settings()
        with es_client(settings) as es:
            return run(batch, settings, IngestConfig.from_dict(config), attempt=attempt, es=es)

    @task(multiple_outputs=False, trigger_rule="all_done", execution_timeout=timedelta(minutes=5))
    def record() -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException
        from arbitrage_dags.ingest import es_client, record_run

        from app.settings import Settings

        context = get_current_context()
        ti = context["ti"]
        planned = ti.xcom_pull(task_ids="plan")
        if planned is None:
            raise AirflowFailException(
                "plan did not succeed (see its log): nothing was fetched, no Keepa token spent"
            )
        settings = Settings()
        with es_client(settings) as es:
            summary = record_run(
                es,
                settings,
                dag_id=context["dag"].dag_id,
                run_id=context["run_id"],
                planned=planned,
                returned=ti.xcom_pull(
                    task_ids="fetch_and_publish", map_indexes=list(range(len(planned)))
                ),
                planned_at=_planning_time(context),
                now=datetime.now(UTC),
            )
        if summary.failed_batches:
            raise AirflowFailException(
                f"{summary.failed_batches} of {summary.batches} batches failed after their "
                f"retries (see fetch_and_publish); the run is recorded in ingest-runs with "
                f"every token spent ({summary.tokens_consumed})"
            )
        return summary.to_document()

    @task(multiple_outputs=False, execution_timeout=timedelta(minutes=10))
    def sync_trackings() -> dict[str, Any]:
        from arbitrage_dags.tracking import run_tracking_sync

        from app.settings import Settings

        return run_tracking_sync(Settings(), _planning_time(get_current_context()))

    config = configure()
    batches = plan(config)
    fetch_and_publish.partial(config=config).expand(batch=batches) >> record()
    batches >> sync_trackings()


keepa_ingest()
