"""``keepa_gapfill``: publish the Keepa notifications the webhook missed (issue 11, part 4).

One task, ``gap_fill`` (:func:`app.ingest.gapfill.gap_fill_with_settings`): reads Keepa's
notification queue (``revise=1``, free of tokens) since the watermark of its last successful
run, publishes to ``keepa.notifications`` what is not there yet, then moves the watermark
(``notification-queue-reads`` index). A DAG of its own rather than a task of
``keepa_ingest``: a missed notification should wait minutes, not the ingestion's 15, and a
failing ingestion must not hold it up. Every 5 minutes (``KEEPA_GAPFILL_SCHEDULE``), one run
at a time, no catch-up: a failed or skipped run leaves the watermark, so the next one reads
its window anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task
from arbitrage_dags.config import schedule_from_env

DEFAULT_GAPFILL_SCHEDULE = "*/5 * * * *"

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "arbitrage",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=2),
}


@dag(
    dag_id="keepa_gapfill",
    schedule=schedule_from_env("KEEPA_GAPFILL_SCHEDULE", DEFAULT_GAPFILL_SCHEDULE),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=10),
    default_args=DEFAULT_ARGS,
    tags=["keepa", "notifications"],
    doc_md=__doc__,
)
def keepa_gapfill() -> None:
    @task(multiple_outputs=False, execution_timeout=timedelta(minutes=5))
    def gap_fill() -> dict[str, Any]:
        from app.ingest.gapfill import gap_fill_with_settings
        from app.settings import Settings

        report = gap_fill_with_settings(Settings(), now=datetime.now(UTC))
        return dict(report.counts())

    gap_fill()


keepa_gapfill()
