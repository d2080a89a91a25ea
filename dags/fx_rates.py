"""``fx_rates``: publish the ECB's EUR/GBP reference rate to the ``fx.rates`` topic.

fetch_rate -> publish_rate. Working days at 16:30 UTC (``FX_RATES_SCHEDULE``), after the
ECB's publication around 16:00 CET. The message (key ``GBP``, compacted topic) is
``{"schema_version": 1, "currency": "GBP", "eur_per_gbp": "1.189980",
"as_of": "2025-03-14T16:00:00Z", "source": "ecb"}`` (:class:`app.contracts.fx_rates.FxRate`).
When the ECB is unreachable or its document is unusable, nothing is published and the run
fails after its retries: the worker keeps the last known rate.
``ECB_RATES_URL`` overrides the ECB address (a mirror, or tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task
from arbitrage_dags.config import DEFAULT_FX_SCHEDULE, env_lookup, schedule_from_env

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "arbitrage",
    "retries": 4,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
}


@dag(
    dag_id="fx_rates",
    schedule=schedule_from_env("FX_RATES_SCHEDULE", DEFAULT_FX_SCHEDULE),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["fx"],
    doc_md=__doc__,
)
def fx_rates() -> None:
    @task(multiple_outputs=False, execution_timeout=timedelta(minutes=2))
    def fetch_rate() -> dict[str, Any]:
        from arbitrage_dags.fx import fetch_fx_value

        from app.ingest.fx import ECB_DAILY_URL

        url = env_lookup("ECB_RATES_URL") or ECB_DAILY_URL
        return fetch_fx_value(datetime.now(UTC), url=url)

    @task(multiple_outputs=False, execution_timeout=timedelta(minutes=2))
    def publish_rate(value: dict[str, Any]) -> dict[str, Any]:
        from arbitrage_dags.fx import publish_fx_value

        from app.settings import Settings

        return publish_fx_value(value, Settings())

    publish_rate(fetch_rate())


fx_rates()
