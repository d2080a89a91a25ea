"""Task bodies of ``keepa_ingest``: :mod:`app.ingest.ingestion`'s functions (shared with
``arbitrage ingest --once``), under the names the DAG file imports."""

from app.ingest.ingestion import (
    PRODUCTS_TOPIC,
    MissingApiKeyError,
    TopicUnavailableError,
    ensure_products_topic,
    es_client,
    fetch_and_publish,
    keepa_client,
    pending_fetch_requests,
    plan_batches,
    planning_time,
    record_run,
    require_api_key,
)

__all__ = [
    "PRODUCTS_TOPIC",
    "MissingApiKeyError",
    "TopicUnavailableError",
    "ensure_products_topic",
    "es_client",
    "fetch_and_publish",
    "keepa_client",
    "pending_fetch_requests",
    "plan_batches",
    "planning_time",
    "record_run",
    "require_api_key",
]
