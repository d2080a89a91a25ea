"""One ingestion run: plan -> fetch and publish (per batch) -> record, as plain functions.

They are the task bodies of the ``keepa_ingest`` DAG (``dags/keepa_ingest.py`` calls them
through :mod:`arbitrage_dags.ingest`) and, one after the other in one process, the whole of
``arbitrage ingest --once`` (:func:`run_once`, for users who run no scheduler): the same
planner, token handling and publisher either way.

* :func:`ensure_products_topic` makes sure ``keepa.products`` exists before anything is
  fetched (it creates it with the app's partition count when no worker has run yet), in
  ``plan`` and again in each batch before it calls Keepa, so a missing topic fails the run
  before a single Keepa token is spent.
* :func:`planning_time` is the instant a run plans for: its data interval's end (else its
  logical date, else when it was due), never the clock, so a cleared run plans the same way.
* :func:`plan_batches` reads the watchlist and the scheduling signals from Elasticsearch,
  lets :func:`app.ingest.scheduling.plan_fetches` choose the due ASINs within the token
  budget and cuts the plan into batches of at most 100 ASINs of one market. The pending
  fetch requests (:func:`pending_fetch_requests`, ``keepa.fetch_requests``: a Keepa
  notification for a market without a quote) are planned first; each batch names the
  requested ASINs it serves (``requested``).
* :func:`fetch_and_publish` fetches one batch from Keepa and publishes every product to
  ``keepa.products``; it returns only after the broker acknowledged every envelope, so a
  failure at any point fails the task and its retry fetches and publishes the batch again
  (at-least-once: the worker's writes are idempotent, a duplicate costs nothing but tokens).
  Then the fetch requests the batch served are marked done (a failure to do so is logged:
  the pair is fetched once more by the next run).
  A Keepa 429 is waited out inside the client, as long as Keepa's token fields say. Every
  try, failed or not, writes its token use to the ``ingest-attempts`` ledger as it ends.
* :func:`record_run` folds the attempts of the run into its token use and counts, logs
  them and writes them to the ``ingest-runs`` index, failed batches included.

The Keepa API key comes from ``KEEPA_API_KEY`` (``Settings.keepa_api_key``, a SecretStr) and
appears in no return value, no document and no log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from aiokafka.errors import KafkaError
from elasticsearch import Elasticsearch
from pydantic import SecretStr

from app.contracts.fetch_requests import FetchRequest
from app.domain.markets import MARKET_CODES, Market
from app.domain.utc import require_utc
from app.ingest.config import IngestConfig
from app.ingest.fetch_requests import mark_done, read_pending_requests, requested_pairs
from app.ingest.kafka_admin import TopicCreationError, ensure_topic
from app.ingest.producer import PublishError, publish_envelopes
from app.ingest.runs import (
    INGEST_ATTEMPTS,
    AttemptKey,
    BatchAttempt,
    BatchOutcome,
    IngestRunSummary,
    load_attempts,
    summarise_run,
    write_attempt,
    write_run,
)
from app.ingest.scheduling import plan_fetches
from app.ingest.signals import load_signals
from app.ingest.watchlist import WatchlistStore
from app.keepa.client import KeepaProductClient
from app.keepa.tokens import TokenPlanner
from app.settings import Settings

log = logging.getLogger(__name__)

PRODUCTS_TOPIC: Final = "keepa.products"


class MissingApiKeyError(RuntimeError):
    """``KEEPA_API_KEY`` is not set."""


class TopicUnavailableError(RuntimeError):
    """A topic of ours (``keepa.products``) neither exists nor could be created."""


def es_client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.elasticsearch_url, request_timeout=30)


def ensure_products_topic(settings: Settings) -> str:
    """The ``keepa.products`` topic's name, after making sure it exists
    (:func:`ensure_app_topic`)."""
    return ensure_app_topic(settings, PRODUCTS_TOPIC)


def ensure_app_topic(settings: Settings, name: str) -> str:
    """The real name of our topic ``name`` (``keepa.products``, ``keepa.notifications``),
    after making sure it exists.

    Created, when missing, as the worker would: ``TOPIC_PARTITIONS`` partitions (the
    messages' partitions must match the worker's tables), ``TOPIC_REPLICATION_FACTOR``
    replicas. :class:`TopicUnavailableError` when Kafka cannot be reached or refuses.
    """
    topic = settings.topic(name)
    servers = settings.kafka_bootstrap_servers
    try:
        created = ensure_topic(
            servers,
            topic,
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
        )
    except (KafkaError, TopicCreationError, OSError) as exc:
        raise TopicUnavailableError(
            f"Kafka topic {topic} does not exist and could not be created on {servers} "
            f"({type(exc).__name__}: {exc}); nothing was fetched, no Keepa token was spent"
        ) from exc
    if created:
        log.warning(
            "topic %s did not exist (no worker has run yet): created it with %d partitions",
            topic,
            settings.topic_partitions,
        )
    return topic


def planning_time(
    *,
    data_interval_end: datetime | None,
    logical_date: datetime | None,
    run_after: datetime | None,
) -> datetime:
    """The instant a run plans for, from the run alone (a cleared run replans the same way).

    A scheduled run: the end of its data interval (the cron time). A manual run with a
    logical date: that date. A manual run without one (Airflow 3's default): when it was
    triggered (``run_after``).
    """
    for value in (data_interval_end, logical_date, run_after):
        if value is not None:
            utc = require_utc(value, "planning time")
            # Airflow hands pendulum DateTimes: subtracting a datetime from one gives a
            # pendulum Duration, which cannot be divided by a timedelta (the planner's overdue
            # ratio): a plain datetime from here on.
            return datetime(
                utc.year,
                utc.month,
                utc.day,
                utc.hour,
                utc.minute,
                utc.second,
                utc.microsecond,
                tzinfo=UTC,
            )
    raise ValueError("the run has neither a data interval, a logical date nor a run_after")


def pending_fetch_requests(settings: Settings) -> dict[str, FetchRequest]:
    """The pending fetch requests (``keepa.fetch_requests``) by ASIN; ``{}`` when they cannot
    be read (logged: they stay pending for the next run, the plan goes on without them)."""
    try:
        return read_pending_requests(settings)
    except (KafkaError, TimeoutError, OSError) as exc:
        log.warning(
            "could not read %s (%s: %s): planning without the fetch requests",
            settings.topic("keepa.fetch_requests"),
            type(exc).__name__,
            exc,
        )
        return {}


def plan_batches(
    es: Elasticsearch,
    settings: Settings,
    config: IngestConfig,
    now: datetime,
    requests: Mapping[str, FetchRequest] | None = None,
) -> list[dict[str, Any]]:
    """The batches of this run: ``[{"market": "DE", "asins": [...]}, ...]`` (<= 100 each).

    Markets in the fixed order DE, FR, IT, ES, GB; ASINs in the planner's order, the pairs
    of ``requests`` (fetch requests by ASIN) first; a batch serving some of them lists those
    ASINs under ``"requested"``.
    """
    requests = requests or {}
    entries = WatchlistStore(es, settings).all_entries()
    if not entries and not requests:
        log.warning("the watchlist %s is empty: nothing to fetch", settings.index("watchlist"))
        return []
    signals = load_signals(es, settings, [e.asin for e in entries], now=now) if entries else {}
    per_asin = TokenPlanner().cost_per_asin(buybox=config.buybox)
    requested = requested_pairs(requests.values())
    wanted = set(requested)
    plan = plan_fetches(
        entries,
        signals,
        now,
        config.token_budget,
        tokens_per_asin=per_asin,
        requested=requested,
    )
    batches: list[dict[str, Any]] = []
    order = {code: i for i, code in enumerate(MARKET_CODES)}
    for market in sorted(plan.by_market, key=lambda m: (order.get(m, len(order)), m)):
        code = Market.parse(market).value
        asins = list(dict.fromkeys(plan.by_market[market]))
        for start in range(0, len(asins), config.batch_size):
            chunk = asins[start : start + config.batch_size]
            batch: dict[str, Any] = {"market": code, "asins": chunk}
            served = [a for a in chunk if (a, code) in wanted]
            if served:
                batch["requested"] = served
            batches.append(batch)
    log.info(
        "plan: %d of %d watchlist ASINs due, %d requested, %d ASIN-market fetches in %d "
        "batches, %d of %d budget tokens (%s)",
        len({a for b in batches for a in b["asins"]}),
        len(entries),
        len(requested),
        sum(len(b["asins"]) for b in batches),
        len(batches),
        plan.tokens,
        config.token_budget,
        ", ".join(f"{m} {len(a)}" for m, a in plan.by_market.items()) or "nothing due",
    )
    return batches


def require_api_key(settings: Settings) -> SecretStr:
    """``KEEPA_API_KEY``; :class:`MissingApiKeyError` if unset (``plan`` checks it, so a run
    without a key fails once, in plan, not in every mapped task)."""
    key = settings.keepa_api_key
    if key is None or not key.get_secret_value().strip():
        raise MissingApiKeyError("KEEPA_API_KEY is not set: cannot fetch from Keepa")
    return key


def keepa_client(settings: Settings, config: IngestConfig) -> KeepaProductClient:
    """A product client with the key from the environment; :class:`MissingApiKeyError` if unset."""
    key = require_api_key(settings)
    return KeepaProductClient(key, base_url=settings.keepa_api_url, buybox=config.buybox)


@dataclass
class _Progress:
    """What one try got done before it ended (for its ledger entry, also when it failed)."""

    products_received: int = 0
    envelopes_published: int = 0


def fetch_and_publish(
    batch: Mapping[str, Any],
    settings: Settings,
    config: IngestConfig,
    *,
    attempt: AttemptKey,
    es: Elasticsearch,
    client: KeepaProductClient | None = None,
) -> dict[str, Any]:
    """Fetch one batch and publish its envelopes; the :class:`BatchAttempt` as a dict.

    Whatever happens, the try's tokens and counts go to the ``ingest-attempts`` ledger as
    ``attempt`` before this returns or raises. The returned dict (the task's XCom) is the
    same record: ``record`` still counts a successful try whose ledger write failed.
    """
    market = Market.parse(str(batch["market"])).value
    asins = [str(a) for a in batch["asins"]]
    owned = client is None
    keepa = keepa_client(settings, config) if client is None else client
    spent_before = keepa.tokens_consumed
    progress = _Progress()
    error: str | None = None
    outcome: BatchOutcome | None = None
    try:
        try:
            partitions = _fetch_and_publish(keepa, market, asins, settings, progress)
        finally:
            if owned:
                keepa.close()
        outcome = _outcome(market, asins, keepa, spent_before, progress, partitions)
        _mark_served(settings, [str(a) for a in batch.get("requested") or ()])
    except BaseException as exc:
        error = _redacted(f"{type(exc).__name__}: {exc}", settings)
        raise
    finally:
        if outcome is None:
            outcome = _outcome(market, asins, keepa, spent_before, progress, {})
        done = BatchAttempt(attempt, outcome, datetime.now(UTC), error=error)
        _write_attempt(es, settings, done)
    log.info(
        "%s: %d ASINs -> %d envelopes published (partitions %s), %d tokens, %s left",
        market,
        len(asins),
        outcome.envelopes_published,
        outcome.partitions,
        outcome.tokens_consumed,
        "?" if outcome.tokens_left is None else outcome.tokens_left,
    )
    return done.to_xcom()


def _fetch_and_publish(
    keepa: KeepaProductClient,
    market: str,
    asins: list[str],
    settings: Settings,
    progress: _Progress,
) -> dict[str, int]:
    """Fetch and publish; the envelopes delivered per partition."""
    ensure_products_topic(settings)  # gone since plan? Fail (or recreate) before paying
    result = keepa.fetch_products(market, asins)
    progress.products_received = len(result.products)
    envelopes = list(result.envelopes())
    returned = {str(e.product.get("asin", "")) for e in envelopes}
    missing = [a for a in asins if a not in returned]
    if missing:
        log.warning("Keepa returned no product for %d %s ASINs: %s", len(missing), market, missing)
    try:
        report = publish_envelopes(envelopes, settings)  # PublishError fails the task: retried
    except PublishError as exc:
        progress.envelopes_published = exc.delivered
        raise
    progress.envelopes_published = report.sent
    if report.sent != len(envelopes):
        raise RuntimeError(
            f"{market}: {report.sent} of {len(envelopes)} envelopes confirmed; failing the batch"
        )
    return {str(p): n for p, n in sorted(report.partitions.items())}


def _mark_served(settings: Settings, asins: list[str]) -> None:
    """Mark the fetch requests of a published batch done; a failure is logged, not raised
    (the products are published: the next run fetches the pairs once more, that is all)."""
    if not asins:
        return
    try:
        mark_done(settings, asins)
    except Exception:
        log.exception(
            "could not mark %d fetch requests done; the next run fetches them again", len(asins)
        )


def _outcome(
    market: str,
    asins: list[str],
    keepa: KeepaProductClient,
    spent_before: int,
    progress: _Progress,
    partitions: Mapping[str, int],
) -> BatchOutcome:
    state = keepa.reported_token_state
    state_at = None
    if state is not None and state.timestamp_ms is not None:
        state_at = datetime.fromtimestamp(state.timestamp_ms / 1000, tz=UTC)
    return BatchOutcome(
        market=market,
        asins_requested=len(asins),
        products_received=progress.products_received,
        envelopes_published=progress.envelopes_published,
        tokens_consumed=keepa.tokens_consumed - spent_before,
        partitions=dict(partitions),
        tokens_left=None if state is None else state.tokens_left,
        refill_rate=None if state is None else state.refill_rate,
        token_state_at=state_at,
    )


def _write_attempt(es: Elasticsearch, settings: Settings, attempt: BatchAttempt) -> None:
    """Ledger entry of a try; a failing write is logged, never raised (the try's own result,
    success or failure, is what the task must report; its tokens are then not recorded)."""
    try:
        write_attempt(es, settings, attempt)
    except Exception:
        log.exception(
            "could not record attempt %s (%d tokens) in %s: the run's token count will miss it",
            attempt.key.document_id,
            attempt.outcome.tokens_consumed,
            settings.index(INGEST_ATTEMPTS),
        )


def _redacted(text: str, settings: Settings) -> str:
    key = settings.keepa_api_key
    secret = "" if key is None else key.get_secret_value()
    return text.replace(secret, "***") if secret else text


def record_run(
    es: Elasticsearch,
    settings: Settings,
    *,
    dag_id: str,
    run_id: str,
    planned: Iterable[Mapping[str, Any]],
    returned: Iterable[Mapping[str, Any] | None],
    planned_at: datetime | None,
    now: datetime,
) -> IngestRunSummary:
    """Summarise the run, log it and index it (id ``dag_id:run_id``: a retry overwrites).

    ``planned`` is the plan's batches (map index = position); ``returned`` what the mapped
    tasks returned (``None`` for those that did not succeed). The tries are those of the
    ``ingest-attempts`` ledger, plus any successful try the ledger missed.
    """
    attempts = {
        a.key.document_id: a for a in load_attempts(es, settings, dag_id=dag_id, run_id=run_id)
    }
    missed = 0
    for value in returned:
        if value is None:
            continue
        attempt = BatchAttempt.from_document(value)
        if attempt.key.document_id not in attempts:
            attempts[attempt.key.document_id] = attempt
            missed += 1
    if missed:
        log.warning(
            "%d successful tries were missing from %s (not written?): counted from their XCom",
            missed,
            settings.index(INGEST_ATTEMPTS),
        )
    summary = summarise_run(
        attempts.values(),
        dag_id=dag_id,
        run_id=run_id,
        planned_batches=len(list(planned)),
        planned_at=planned_at,
        finished_at=now,
    )
    log.info("%s", summary.describe())
    write_run(es, settings, summary)
    return summary


# --- arbitrage ingest --once -----------------------------------------------------------------

#: The ``dag_id`` under which ``arbitrage ingest --once`` records its runs and attempts in
#: ``ingest-runs`` / ``ingest-attempts`` (next to the DAG's ``keepa_ingest``).
ONCE_RUN_ID_PREFIX: Final = "once"
ONCE_DAG_ID: Final = "arbitrage-ingest-once"


@dataclass(frozen=True, slots=True)
class BatchFailure:
    """A batch of a ``--once`` run that did not publish: its market, ASINs and why (the
    keys the broker did not confirm, when publishing failed)."""

    market: str
    asins: tuple[str, ...]
    error: str
    failed_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OnceReport:
    """What one :func:`run_once` did: the plan, the run's summary, the failed batches."""

    batches: tuple[Mapping[str, Any], ...]
    requested: int
    """Pending fetch requests read (``keepa.fetch_requests``) before planning."""
    summary: IngestRunSummary
    failures: tuple[BatchFailure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        """What the command prints: plan, fetch/publish counts, tokens, failures by key."""
        s = self.summary
        asins = {str(a) for b in self.batches for a in b["asins"]}
        pairs = sum(len(b["asins"]) for b in self.batches)
        served = sum(len(b.get("requested") or ()) for b in self.batches)
        left = "unknown" if s.tokens_left is None else str(s.tokens_left)
        rate = "" if s.refill_rate is None else f", refill {s.refill_rate}/min"
        out = [
            f"planned: {len(asins)} ASINs, {pairs} ASIN-market fetches in {len(self.batches)} "
            f"batches ({served} of them for {self.requested} pending fetch requests)",
            f"fetched: {s.products_received} products for {s.asins_requested} ASIN-market "
            f"pairs; published: {s.envelopes_published} envelopes to keepa.products",
            f"tokens: {s.tokens_consumed} consumed, {left} left{rate}",
            f"recorded: {s.document_id} in ingest-runs",
        ]
        for f in self.failures:
            keys = f" (unconfirmed keys: {', '.join(f.failed_keys)})" if f.failed_keys else ""
            out.append(f"FAILED {f.market} [{', '.join(f.asins)}]: {f.error}{keys}")
        return out


def run_once(
    settings: Settings,
    config: IngestConfig,
    *,
    es: Elasticsearch,
    now: datetime,
    client: KeepaProductClient | None = None,
    run_id: str | None = None,
) -> OnceReport:
    """One ingestion run without a scheduler, with the DAG's functions in the DAG's order:
    the topic is made sure of, the pending fetch requests read, the due ASINs planned
    (:func:`plan_batches`), every batch fetched and published (:func:`fetch_and_publish`,
    its try written to ``ingest-attempts``), the run recorded (:func:`record_run`) under
    :data:`ONCE_DAG_ID`.

    A batch that fails is reported in :attr:`OnceReport.failures` and the other batches
    still run; it is not retried here (its pairs stay due: the next run plans them again).
    Raised before any token is spent: :class:`TopicUnavailableError`,
    :class:`MissingApiKeyError` (only when something is due).
    """
    now = require_utc(now, "now")
    run_id = run_id or f"{ONCE_RUN_ID_PREFIX}-{now.strftime('%Y%m%dT%H%M%S.%fZ')}"
    ensure_products_topic(settings)
    requests = pending_fetch_requests(settings)
    batches = plan_batches(es, settings, config, now, requests)
    returned: list[dict[str, Any] | None] = []
    failures: list[BatchFailure] = []
    if batches:
        owned = client is None
        keepa = keepa_client(settings, config) if client is None else client
        try:
            for index, batch in enumerate(batches):
                attempt = AttemptKey(ONCE_DAG_ID, run_id, map_index=index, try_number=1)
                try:
                    returned.append(
                        fetch_and_publish(
                            batch, settings, config, attempt=attempt, es=es, client=keepa
                        )
                    )
                except Exception as exc:
                    returned.append(None)
                    failures.append(_failure(batch, exc, settings))
        finally:
            if owned:
                keepa.close()
    summary = record_run(
        es,
        settings,
        dag_id=ONCE_DAG_ID,
        run_id=run_id,
        planned=batches,
        returned=returned,
        planned_at=now,
        now=datetime.now(UTC),
    )
    return OnceReport(
        batches=tuple(batches),
        requested=len(requests),
        summary=summary,
        failures=tuple(failures),
    )


def _failure(batch: Mapping[str, Any], exc: Exception, settings: Settings) -> BatchFailure:
    log.error("%s batch failed: %s: %s", batch["market"], type(exc).__name__, exc)
    keys = tuple(exc.failed_keys) if isinstance(exc, PublishError) else ()
    return BatchFailure(
        market=str(batch["market"]),
        asins=tuple(str(a) for a in batch["asins"]),
        error=_redacted(f"{type(exc).__name__}: {exc}", settings),
        failed_keys=keys,
    )
