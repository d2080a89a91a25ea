"""What one ingestion run did and cost: per-batch outcomes, the run summary, its ES index.

The ``keepa_ingest`` DAG fetches and publishes one batch per mapped task; each returns a
:class:`BatchOutcome` (as a JSON-able dict, Airflow's XCom). The ``record`` task folds them
into an :class:`IngestRunSummary` (tokens consumed, tokens left, per-market counts), logs it
and writes it to the ``ingest-runs`` index (id = ``dag_id:run_id``, so a retried ``record``
overwrites its own document instead of adding one).
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
    "INGEST_RUNS",
    "INGEST_RUNS_MAPPING",
    "BatchOutcome",
    "IngestRunSummary",
    "MarketTotals",
    "ensure_ingest_runs_index",
    "summarise_run",
    "write_run",
]

#: Logical index name; the real one is ``settings.index(INGEST_RUNS)``.
INGEST_RUNS: Final = "ingest-runs"

_KEYWORD: Final = {"type": "keyword"}
_LONG: Final = {"type": "long"}
_INTEGER: Final = {"type": "integer"}
_DATE: Final = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}

#: Explicit and strict, like the contract's indices (an unknown field is a rejected document).
INGEST_RUNS_MAPPING: Final[Mapping[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "dag_id": _KEYWORD,
        "run_id": _KEYWORD,
        "recorded_at": _DATE,
        "batches": _INTEGER,
        "asins_requested": _LONG,
        "products_received": _LONG,
        "envelopes_published": _LONG,
        "tokens_consumed": _LONG,
        "tokens_left": _LONG,
        "refill_rate": _INTEGER,
        "token_state_at": _DATE,
        "markets": {
            "type": "nested",
            "dynamic": "strict",
            "properties": {
                "market": _KEYWORD,
                "batches": _INTEGER,
                "asins_requested": _LONG,
                "products_received": _LONG,
                "envelopes_published": _LONG,
                "tokens_consumed": _LONG,
            },
        },
    },
}


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
class MarketTotals:
    market: str
    batches: int = 0
    asins_requested: int = 0
    products_received: int = 0
    envelopes_published: int = 0
    tokens_consumed: int = 0


@dataclass(frozen=True, slots=True)
class IngestRunSummary:
    """Totals of one run; ``tokens_left`` is Keepa's latest reported balance, if any."""

    dag_id: str
    run_id: str
    recorded_at: datetime
    batches: int
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
            "recorded_at": format_utc(self.recorded_at),
            "batches": self.batches,
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
            for m in self.markets
        )
        line = (
            f"{self.dag_id} {self.run_id}: {self.envelopes_published} envelopes published for "
            f"{self.asins_requested} ASINs in {self.batches} batches; tokens consumed "
            f"{self.tokens_consumed}, left {left}{rate}"
        )
        return f"{line}; {per_market}" if per_market else line


def summarise_run(
    outcomes: Iterable[BatchOutcome], *, dag_id: str, run_id: str, recorded_at: datetime
) -> IngestRunSummary:
    """Fold the batch outcomes of a run (pure)."""
    items = list(outcomes)
    per_market: dict[str, MarketTotals] = {}
    for o in items:
        m = per_market.get(o.market, MarketTotals(o.market))
        per_market[o.market] = MarketTotals(
            market=o.market,
            batches=m.batches + 1,
            asins_requested=m.asins_requested + o.asins_requested,
            products_received=m.products_received + o.products_received,
            envelopes_published=m.envelopes_published + o.envelopes_published,
            tokens_consumed=m.tokens_consumed + o.tokens_consumed,
        )
    latest = _latest_token_state(items)
    return IngestRunSummary(
        dag_id=dag_id,
        run_id=run_id,
        recorded_at=require_utc(recorded_at, "recorded_at"),
        batches=len(items),
        asins_requested=sum(o.asins_requested for o in items),
        products_received=sum(o.products_received for o in items),
        envelopes_published=sum(o.envelopes_published for o in items),
        tokens_consumed=sum(o.tokens_consumed for o in items),
        tokens_left=None if latest is None else latest.tokens_left,
        refill_rate=None if latest is None else latest.refill_rate,
        token_state_at=None if latest is None else latest.token_state_at,
        markets=tuple(per_market[k] for k in sorted(per_market)),
    )


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


def ensure_ingest_runs_index(es: Elasticsearch, settings: Settings) -> str:
    """Create the ``ingest-runs`` index if missing (idempotent, race-safe); its real name."""
    name = settings.index(INGEST_RUNS)
    if es.indices.exists(index=name):
        return name
    try:
        es.indices.create(
            index=name,
            mappings=dict(INGEST_RUNS_MAPPING),
            settings={"index": {"number_of_shards": 1, "number_of_replicas": 0}},
        )
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
    return name


def write_run(es: Elasticsearch, settings: Settings, summary: IngestRunSummary) -> str:
    """Index the summary (idempotent: same run, same id); the document id."""
    index = ensure_ingest_runs_index(es, settings)
    es.index(index=index, id=summary.document_id, document=summary.to_document())
    return summary.document_id
