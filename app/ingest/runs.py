"""What one ingestion run did and cost: per-attempt ledger, the run summary, their ES indices.

The ``keepa_ingest`` DAG fetches and publishes one batch per mapped task. Every *attempt* of
such a task (the first try and each retry) writes a :class:`BatchAttempt` to the
``ingest-attempts`` index as it ends, successful or not, with the tokens Keepa reported for
its requests: a try that fetched and then failed to publish has spent tokens too. The
``record`` task folds the attempts of the run into an :class:`IngestRunSummary` (every
token spent, tokens left, per-market counts, failed batches), logs it and writes it to the
``ingest-runs`` index. Ids are ``dag_id:run_id:map_index:try_number`` and ``dag_id:run_id``,
so a retried write overwrites its own document instead of adding one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from elasticsearch import BadRequestError, Elasticsearch

from app.domain.utc import format_utc, parse_utc, require_utc
from app.settings import Settings

__all__ = [
    "INGEST_ATTEMPTS",
    "INGEST_ATTEMPTS_MAPPING",
    "INGEST_RUNS",
    "INGEST_RUNS_MAPPING",
    "AttemptKey",
    "BatchAttempt",
    "BatchOutcome",
    "IngestRunSummary",
    "MarketTotals",
    "ensure_index",
    "ensure_ingest_attempts_index",
    "ensure_ingest_runs_index",
    "load_attempts",
    "summarise_run",
    "write_attempt",
    "write_run",
]

#: Logical index names; the real ones are ``settings.index(...)``.
INGEST_RUNS: Final = "ingest-runs"
INGEST_ATTEMPTS: Final = "ingest-attempts"

_KEYWORD: Final = {"type": "keyword"}
_LONG: Final = {"type": "long"}
_INTEGER: Final = {"type": "integer"}
_DATE: Final = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}

_COUNTS: Final[Mapping[str, Any]] = {
    "asins_requested": _LONG,
    "products_received": _LONG,
    "envelopes_published": _LONG,
    "tokens_consumed": _LONG,
}

#: Explicit and strict, like the contract's indices (an unknown field is a rejected document).
INGEST_RUNS_MAPPING: Final[Mapping[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "dag_id": _KEYWORD,
        "run_id": _KEYWORD,
        "planned_at": _DATE,
        "finished_at": _DATE,
        "batches": _INTEGER,
        "failed_batches": _INTEGER,
        "attempts": _INTEGER,
        **_COUNTS,
        "tokens_left": _LONG,
        "refill_rate": _INTEGER,
        "token_state_at": _DATE,
        "markets": {
            "type": "nested",
            "dynamic": "strict",
            "properties": {
                "market": _KEYWORD,
                "batches": _INTEGER,
                "failed_batches": _INTEGER,
                "attempts": _INTEGER,
                **_COUNTS,
            },
        },
    },
}

INGEST_ATTEMPTS_MAPPING: Final[Mapping[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "dag_id": _KEYWORD,
        "run_id": _KEYWORD,
        "map_index": _INTEGER,
        "try_number": _INTEGER,
        "market": _KEYWORD,
        "status": _KEYWORD,
        "error": {"type": "text"},
        "finished_at": _DATE,
        **_COUNTS,
        "tokens_left": _LONG,
        "refill_rate": _INTEGER,
        "token_state_at": _DATE,
    },
}

#: Longest error message kept in an attempt document.
_MAX_ERROR: Final = 2_000


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """One fetched-and-published batch (one market, at most 100 ASINs)."""

    market: str
    asins_requested: int
    products_received: int
    envelopes_published: int
    tokens_consumed: int
    partitions: Mapping[str, int] = field(default_factory=dict)
    """Partition (as a string: XCom is JSON) -> envelopes delivered to it."""
    tokens_left: int | None = None
    refill_rate: int | None = None
    token_state_at: datetime | None = None
    """Keepa's server time of the token state (aware, UTC)."""

    def __post_init__(self) -> None:
        counts = (
            self.asins_requested,
            self.products_received,
            self.envelopes_published,
            self.tokens_consumed,
        )
        if min(counts) < 0:
            raise ValueError(f"negative count in batch outcome of {self.market}")
        if self.token_state_at is not None:
            object.__setattr__(
                self, "token_state_at", require_utc(self.token_state_at, "token_state_at")
            )

    def to_xcom(self) -> dict[str, Any]:
        """A JSON-able dict (no secrets: counts and token figures only)."""
        data = asdict(self)
        data["partitions"] = {str(k): int(v) for k, v in self.partitions.items()}
        data["token_state_at"] = (
            None if self.token_state_at is None else format_utc(self.token_state_at)
        )
        return data

    @classmethod
    def from_xcom(cls, data: Mapping[str, Any]) -> BatchOutcome:
        at = data.get("token_state_at")
        return cls(
            market=str(data["market"]),
            asins_requested=int(data["asins_requested"]),
            products_received=int(data["products_received"]),
            envelopes_published=int(data["envelopes_published"]),
            tokens_consumed=int(data["tokens_consumed"]),
            partitions={str(k): int(v) for k, v in dict(data.get("partitions") or {}).items()},
            tokens_left=None if data.get("tokens_left") is None else int(data["tokens_left"]),
            refill_rate=None if data.get("refill_rate") is None else int(data["refill_rate"]),
            token_state_at=None if at is None else parse_utc(str(at)),
        )


@dataclass(frozen=True, slots=True)
class AttemptKey:
    """Which try of which mapped task: ``map_index`` is the batch's position in the plan."""

    dag_id: str
    run_id: str
    map_index: int
    try_number: int

    @property
    def document_id(self) -> str:
        return f"{self.dag_id}:{self.run_id}:{self.map_index}:{self.try_number}"


@dataclass(frozen=True, slots=True)
class BatchAttempt:
    """One try of one batch: what it fetched, published and spent, and how it ended.

    ``outcome`` holds what is known when the try ended: a try that failed after fetching
    has its products and tokens counted, and the envelopes the broker confirmed before
    the failure. ``error`` is ``None`` for a try that published the whole batch.
    """

    key: AttemptKey
    outcome: BatchOutcome
    finished_at: datetime
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "finished_at", require_utc(self.finished_at, "finished_at"))
        if self.error is not None:
            object.__setattr__(self, "error", self.error[:_MAX_ERROR])

    @property
    def succeeded(self) -> bool:
        return self.error is None

    def to_document(self) -> dict[str, Any]:
        outcome = self.outcome.to_xcom()
        del outcome["partitions"]
        return {
            "dag_id": self.key.dag_id,
            "run_id": self.key.run_id,
            "map_index": self.key.map_index,
            "try_number": self.key.try_number,
            "status": "published" if self.succeeded else "failed",
            "error": self.error,
            "finished_at": format_utc(self.finished_at),
            **outcome,
        }

    def to_xcom(self) -> dict[str, Any]:
        """The document plus the partitions (what the mapped task returns)."""
        return {**self.to_document(), "partitions": self.outcome.to_xcom()["partitions"]}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> BatchAttempt:
        """From :meth:`to_document` or :meth:`to_xcom`."""
        return cls(
            key=AttemptKey(
                dag_id=str(doc["dag_id"]),
                run_id=str(doc["run_id"]),
                map_index=int(doc["map_index"]),
                try_number=int(doc["try_number"]),
            ),
            outcome=BatchOutcome.from_xcom(doc),
            finished_at=parse_utc(str(doc["finished_at"])),
            error=None if doc.get("status") == "published" else str(doc.get("error") or "failed"),
        )


@dataclass(frozen=True, slots=True)
class MarketTotals:
    market: str
    batches: int = 0
    failed_batches: int = 0
    attempts: int = 0
    asins_requested: int = 0
    products_received: int = 0
    envelopes_published: int = 0
    tokens_consumed: int = 0


@dataclass(frozen=True, slots=True)
class IngestRunSummary:
    """Totals of one run.

    ``batches`` is what the plan asked for; a batch whose last try failed (or that never
    ran) is a ``failed_batches``. The per-batch counts (ASINs, products, envelopes) are those
    of each batch's last try; ``tokens_consumed`` is every token Keepa charged, over all
    tries. ``tokens_left`` is Keepa's latest reported balance, if any.
    """

    dag_id: str
    run_id: str
    planned_at: datetime | None
    finished_at: datetime
    batches: int
    failed_batches: int
    attempts: int
    asins_requested: int
    products_received: int
    envelopes_published: int
    tokens_consumed: int
    tokens_left: int | None
    refill_rate: int | None
    token_state_at: datetime | None
    markets: tuple[MarketTotals, ...]

    @property
    def document_id(self) -> str:
        return f"{self.dag_id}:{self.run_id}"

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "planned_at": None if self.planned_at is None else format_utc(self.planned_at),
            "finished_at": format_utc(self.finished_at),
            "batches": self.batches,
            "failed_batches": self.failed_batches,
            "attempts": self.attempts,
            "asins_requested": self.asins_requested,
            "products_received": self.products_received,
            "envelopes_published": self.envelopes_published,
            "tokens_consumed": self.tokens_consumed,
            "tokens_left": self.tokens_left,
            "refill_rate": self.refill_rate,
            "token_state_at": (
                None if self.token_state_at is None else format_utc(self.token_state_at)
            ),
            "markets": [asdict(m) for m in self.markets],
        }
        return doc

    def describe(self) -> str:
        """One log line."""
        left = "unknown" if self.tokens_left is None else str(self.tokens_left)
        rate = "" if self.refill_rate is None else f" (refill {self.refill_rate}/min)"
        per_market = ", ".join(
            f"{m.market}: {m.envelopes_published}/{m.asins_requested} published, "
            f"{m.tokens_consumed} tokens"
            + (f", {m.failed_batches} batches failed" if m.failed_batches else "")
            for m in self.markets
        )
        failed = f", {self.failed_batches} failed" if self.failed_batches else ""
        line = (
            f"{self.dag_id} {self.run_id}: {self.envelopes_published} envelopes published for "
            f"{self.asins_requested} ASINs in {self.batches} batches{failed} "
            f"({self.attempts} attempts); tokens consumed {self.tokens_consumed}, "
            f"left {left}{rate}"
        )
        return f"{line}; {per_market}" if per_market else line


def summarise_run(
    attempts: Iterable[BatchAttempt],
    *,
    dag_id: str,
    run_id: str,
    planned_batches: int,
    planned_at: datetime | None,
    finished_at: datetime,
) -> IngestRunSummary:
    """Fold the attempts of a run whose plan had ``planned_batches`` batches (pure).

    Attempts of other runs are ignored; so are attempts with a map index outside the plan.
    """
    if planned_batches < 0:
        raise ValueError("planned_batches must not be negative")
    items = [
        a
        for a in attempts
        if (a.key.dag_id, a.key.run_id) == (dag_id, run_id)
        and 0 <= a.key.map_index < planned_batches
    ]
    last: dict[int, BatchAttempt] = {}
    for a in items:
        seen = last.get(a.key.map_index)
        if seen is None or a.key.try_number >= seen.key.try_number:
            last[a.key.map_index] = a
    failed = planned_batches - sum(1 for a in last.values() if a.succeeded)
    per_market: dict[str, MarketTotals] = {}
    for a in items:
        o = a.outcome
        m = per_market.get(o.market, MarketTotals(o.market))
        final = last[a.key.map_index] is a
        per_market[o.market] = MarketTotals(
            market=o.market,
            batches=m.batches + int(final),
            failed_batches=m.failed_batches + int(final and not a.succeeded),
            attempts=m.attempts + 1,
            asins_requested=m.asins_requested + (o.asins_requested if final else 0),
            products_received=m.products_received + (o.products_received if final else 0),
            envelopes_published=m.envelopes_published + (o.envelopes_published if final else 0),
            tokens_consumed=m.tokens_consumed + o.tokens_consumed,
        )
    finals = [last[i] for i in sorted(last)]
    latest = _latest_token_state([a.outcome for a in sorted(items, key=_attempt_order)])
    return IngestRunSummary(
        dag_id=dag_id,
        run_id=run_id,
        planned_at=None if planned_at is None else require_utc(planned_at, "planned_at"),
        finished_at=require_utc(finished_at, "finished_at"),
        batches=planned_batches,
        failed_batches=failed,
        attempts=len(items),
        asins_requested=sum(a.outcome.asins_requested for a in finals),
        products_received=sum(a.outcome.products_received for a in finals),
        envelopes_published=sum(a.outcome.envelopes_published for a in finals),
        tokens_consumed=sum(a.outcome.tokens_consumed for a in items),
        tokens_left=None if latest is None else latest.tokens_left,
        refill_rate=None if latest is None else latest.refill_rate,
        token_state_at=None if latest is None else latest.token_state_at,
        markets=tuple(per_market[k] for k in sorted(per_market)),
    )


def _attempt_order(attempt: BatchAttempt) -> datetime:
    return attempt.finished_at


def _latest_token_state(items: list[BatchOutcome]) -> BatchOutcome | None:
    """The outcome with the newest token state (Keepa's clock; order of arrival breaks ties)."""
    with_state = [o for o in items if o.tokens_left is not None]
    if not with_state:
        return None
    dated = [o for o in with_state if o.token_state_at is not None]
    if not dated:
        return with_state[-1]
    # max() keeps the first of equals: scan newest arrival first.
    return max(reversed(dated), key=lambda o: o.token_state_at or _EPOCH)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


# --- Elasticsearch (I/O) -------------------------------------------------------------------


def ensure_index(es: Elasticsearch, name: str, mapping: Mapping[str, Any]) -> str:
    """Create ``name`` with ``mapping`` if missing (idempotent, race-safe).

    An existing index gets the mapping's fields added (``put_mapping``): an index created by
    an older version accepts the documents of this one. A field whose type changed fails.
    """
    if es.indices.exists(index=name):
        es.indices.put_mapping(index=name, properties=dict(mapping["properties"]))
        return name
    try:
        es.indices.create(
            index=name,
            mappings=dict(mapping),
            settings={"index": {"number_of_shards": 1, "number_of_replicas": 0}},
        )
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
    return name


def ensure_ingest_runs_index(es: Elasticsearch, settings: Settings) -> str:
    """Create or update the ``ingest-runs`` index; its real name."""
    return ensure_index(es, settings.index(INGEST_RUNS), INGEST_RUNS_MAPPING)


def ensure_ingest_attempts_index(es: Elasticsearch, settings: Settings) -> str:
    """Create or update the ``ingest-attempts`` index; its real name."""
    return ensure_index(es, settings.index(INGEST_ATTEMPTS), INGEST_ATTEMPTS_MAPPING)


def write_run(es: Elasticsearch, settings: Settings, summary: IngestRunSummary) -> str:
    """Index the summary (idempotent: same run, same id); the document id."""
    index = ensure_ingest_runs_index(es, settings)
    es.index(index=index, id=summary.document_id, document=summary.to_document())
    return summary.document_id


def write_attempt(es: Elasticsearch, settings: Settings, attempt: BatchAttempt) -> str:
    """Index one attempt (idempotent: same try, same id); the document id."""
    index = ensure_ingest_attempts_index(es, settings)
    es.index(index=index, id=attempt.key.document_id, document=attempt.to_document())
    return attempt.key.document_id


#: More attempts than one run can have: budget / 1 token per ASIN / 1 ASIN per batch x tries.
_MAX_ATTEMPTS: Final = 10_000


def load_attempts(
    es: Elasticsearch, settings: Settings, *, dag_id: str, run_id: str
) -> list[BatchAttempt]:
    """Every attempt recorded for the run, by map index and try number (after a refresh)."""
    index = settings.index(INGEST_ATTEMPTS)
    if not es.indices.exists(index=index):
        return []
    es.indices.refresh(index=index)
    response = es.search(
        index=index,
        query={"bool": {"filter": [{"term": {"dag_id": dag_id}}, {"term": {"run_id": run_id}}]}},
        sort=[{"map_index": "asc"}, {"try_number": "asc"}],
        size=_MAX_ATTEMPTS,
        track_total_hits=True,
    )
    hits = response["hits"]["hits"]
    total = int(response["hits"]["total"]["value"])
    if total > len(hits):
        raise RuntimeError(f"{dag_id} {run_id}: {total} attempts, more than {len(hits)} readable")
    return [BatchAttempt.from_document(h["_source"]) for h in hits]
