"""``watchlist_discovery``: grow the watchlist from Keepa best-seller lists.

targets -> discover (mapped: one task per (market, category) pair) -> add_new.

Daily (``WATCHLIST_DISCOVERY_SCHEDULE``). The pairs are ``KEEPA_DISCOVERY_TARGETS`` (Airflow
Variable ``keepa_discovery_targets``, else environment), a JSON list such as
``[{"market": "DE", "category": 3167641, "limit": 100}]``; ``KEEPA_DISCOVERY_LIMIT`` is the
default limit. New ASINs are added with ``source="bestsellers"`` and the lowest priority;
ASINs already on the watchlist are left as they are. A best-seller list costs 50 tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task
from arbitrage_dags.config import (
    DEFAULT_DISCOVERY_SCHEDULE,
    airflow_lookup,
    discovery_targets,
    schedule_from_env,
)
from arbitrage_dags.xcom import mapped_results

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "arbitrage",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=15),
}


@dag(
    dag_id="watchlist_discovery",
    schedule=schedule_from_env("WATCHLIST_DISCOVERY_SCHEDULE", DEFAULT_DISCOVERY_SCHEDULE),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["keepa", "watchlist"],
    doc_md=__doc__,
)
def watchlist_discovery() -> None:
    @task(multiple_outputs=False)
    def targets() -> list[dict[str, Any]]:
        return [t.to_dict() for t in discovery_targets(airflow_lookup)]

    @task(
        multiple_outputs=False, execution_timeout=timedelta(minutes=30), max_active_tis_per_dagrun=2
    )
    def discover(target: dict[str, Any]) -> dict[str, Any]:
        from arbitrage_dags.discovery import discover as run

        from app.settings import Settings

        return run(target, Settings())

    @task(multiple_outputs=False, trigger_rule="none_failed")
    def add_new(found: list[dict[str, Any]]) -> dict[str, int]:
        from arbitrage_dags.discovery import add_discovered
        from arbitrage_dags.ingest import es_client

        from app.settings import Settings

        settings = Settings()
        with es_client(settings) as es:
            return add_discovered(mapped_results(found), es, settings, now=datetime.now(UTC))

    add_new(discover.expand(target=targets()))


watchlist_discovery()
