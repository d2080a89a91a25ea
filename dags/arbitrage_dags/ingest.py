"""Task bodies of ``keepa_ingest``: plan -> fetch and publish (one per batch) -> record.

* :func:`plan_batches` reads the watchlist and the scheduling signals from Elasticsearch,
  lets :func:`app.ingest.scheduling.plan_fetches` choose the due ASINs within the token
  budget and cuts the plan into batches of at most 100 ASINs of one market.
* :func:`fetch_and_publish` fetches one batch from Keepa and publishes every product to
  ``keepa.products``; it returns only after the broker acknowledged every envelope, so a
  failure at any point fails the task and its retry fetches and publishes the batch again
  (at-least-once: the worker's writes are idempotent, a duplicate costs nothing but tokens).
  A Keepa 429 is waited out inside the client, as long as Keepa's token fields say.
* :func:`record_run` folds the batch outcomes into the run's token use and counts, logs
  them and writes them to the ``ingest-runs`` index.

The Keepa API key comes from ``KEEPA_API_KEY`` (``Settings.keepa_api_key``, a SecretStr) and
appears in no return value and no log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from app.ingest.producer import publish_envelopes
from app.ingest.runs import BatchOutcome, IngestRunSummary, summarise_run, write_run
from app.ingest.scheduling import plan_fetches
from app.ingest.signals import load_signals
from app.ingest.watchlist import WatchlistStore
from app.keepa.client import KeepaProductClient
from app.keepa.markets import MARKET_CODES, get_market
from app.keepa.tokens import TokenPlanner
from app.settings import Settings
from arbitrage_dags.config import IngestConfig

log = logging.getLogger(__name__)


class MissingApiKeyError(RuntimeError):
    """``KEEPA_API_KEY`` is not set."""


def es_client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.elasticsearch_url, request_timeout=30)


def plan_batches(
    es: Elasticsearch, settings: Settings, config: IngestConfig, now: datetime
) -> list[dict[str, Any]]:
    """The batches of this run: ``[{"market": "DE", "asins": [...]}, ...]`` (<= 100 each).

    Markets in the fixed order DE, FR, IT, ES, GB; ASINs in the planner's order.
    """
    entries = WatchlistStore(es, settings).all_entries()
    if not entries:
        log.warning("the watchlist %s is empty: nothing to fetch", settings.index("watchlist"))
        return []
    signals = load_signals(es, settings, [e.asin for e in entries], now=now)
    per_asin = TokenPlanner().cost_per_asin(buybox=config.buybox)
    plan = plan_fetches(entries, signals, now, config.token_budget, tokens_per_asin=per_asin)
    batches: list[dict[str, Any]] = []
    order = {code: i for i, code in enumerate(MARKET_CODES)}
    for market in sorted(plan.by_market, key=lambda m: (order.get(m, len(order)), m)):
        code = get_market(market).code
        asins = list(dict.fromkeys(plan.by_market[market]))
        for start in range(0, len(asins), config.batch_size):
            batches.append({"market": code, "asins": asins[start : start + config.batch_size]})
    log.info(
        "plan: %d of %d watchlist ASINs due, %d ASIN-market fetches in %d batches, "
        "%d of %d budget tokens (%s)",
        len({a for b in batches for a in b["asins"]}),
        len(entries),
        sum(len(b["asins"]) for b in batches),
        len(batches),
        plan.tokens,
        config.token_budget,
        ", ".join(f"{m} {len(a)}" for m, a in plan.by_market.items()) or "nothing due",
    )
    return batches


def keepa_client(settings: Settings, config: IngestConfig) -> KeepaProductClient:
    """A product client with the key from the environment; :class:`MissingApiKeyError` if unset."""
    key = settings.keepa_api_key
    if key is None or not key.get_secret_value().strip():
        raise MissingApiKeyError("KEEPA_API_KEY is not set: cannot fetch from Keepa")
    return KeepaProductClient(key, base_url=settings.keepa_api_url, buybox=config.buybox)


def fetch_and_publish(
    batch: Mapping[str, Any],
    settings: Settings,
    config: IngestConfig,
    *,
    client: KeepaProductClient | None = None,
) -> dict[str, Any]:
    """Fetch one batch and publish its envelopes; the :class:`BatchOutcome` as a dict."""
    market = get_market(str(batch["market"])).code
    asins = [str(a) for a in batch["asins"]]
    owned = client is None
    keepa = keepa_client(settings, config) if client is None else client
    try:
        result = keepa.fetch_products(market, asins)
    finally:
        if owned:
            keepa.close()
    envelopes = list(result.envelopes())
    returned = {str(e.product.get("asin", "")) for e in envelopes}
    missing = [a for a in asins if a not in returned]
    if missing:
        log.warning("Keepa returned no product for %d %s ASINs: %s", len(missing), market, missing)
    report = publish_envelopes(envelopes, settings)  # PublishError fails the task: retried
    if report.sent != len(envelopes):
        raise RuntimeError(
            f"{market}: {report.sent} of {len(envelopes)} envelopes confirmed; failing the batch"
        )
    state = result.token_state
    state_at = None
    if state is not None and state.timestamp_ms is not None:
        state_at = datetime.fromtimestamp(state.timestamp_ms / 1000, tz=UTC)
    outcome = BatchOutcome(
        market=market,
        asins_requested=len(asins),
        products_received=len(result.products),
        envelopes_published=report.sent,
        tokens_consumed=result.tokens_consumed,
        partitions={str(p): n for p, n in sorted(report.partitions.items())},
        tokens_left=None if state is None else state.tokens_left,
        refill_rate=None if state is None else state.refill_rate,
        token_state_at=state_at,
    )
    log.info(
        "%s: %d ASINs -> %d envelopes published (partitions %s), %d tokens, %s left",
        market,
        len(asins),
        report.sent,
        outcome.partitions,
        outcome.tokens_consumed,
        "?" if outcome.tokens_left is None else outcome.tokens_left,
    )
    return outcome.to_xcom()


def record_run(
    outcomes: Iterable[Mapping[str, Any]],
    es: Elasticsearch,
    settings: Settings,
    *,
    dag_id: str,
    run_id: str,
    now: datetime,
) -> IngestRunSummary:
    """Summarise the run, log it and index it (id ``dag_id:run_id``: a retry overwrites)."""
    summary = summarise_run(
        (BatchOutcome.from_xcom(o) for o in outcomes if o is not None),
        dag_id=dag_id,
        run_id=run_id,
        recorded_at=now,
    )
    log.info("%s", summary.describe())
    write_run(es, settings, summary)
    return summary
