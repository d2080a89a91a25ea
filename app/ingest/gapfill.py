"""Gap filling: publish the Keepa notifications the webhook missed, from Keepa's queue.

Keepa POSTs each notification to our webhook once and retries once about 15 s later; a
notification whose two POSTs both failed (receiver down, Kafka down so the receiver
answered 5xx) never reached ``keepa.notifications``. Keepa keeps every notification 24
hours in a queue (``/tracking?type=notification&since=...&revise=1``, free of tokens;
``revise=1`` returns the delivered ones too). :func:`gap_fill`:

1. picks the window: from the watermark of the last successful read minus
   :data:`OVERLAP` (``--since MINUTES`` overrides it; no watermark: the queue's 24 hours),
   never further back than the queue holds;
2. reads the queue since then (:meth:`KeepaTrackingClient.notifications`, ``revise=1``);
   items that are not valid notifications are counted as rejected and logged;
3. reads the ``notification_id`` of every message on ``keepa.notifications`` since the
   window's start (minus :data:`OVERLAP` for clock skew; Kafka's time index skips older
   records, so this read is as small as the window) and keeps the queue's notifications
   whose id is not among them, nor created in the last :data:`SETTLE` (Keepa's own retry
   may still deliver those; the next run's overlap covers them);
4. publishes them, oldest first, as the receiver would (key = ASIN, ``source`` "queue",
   idempotent producer, ``acks=all``) and waits for every acknowledgement;
5. only then stores the new watermark (the read's start minus :data:`SETTLE`) with the
   run's counts in the ``notification-queue-reads`` index (one document per tracking list:
   the same durable place as the ingestion's run records, :mod:`app.ingest.runs`).

A failure before step 5 leaves the watermark where it was: the next run reads the same
window again and publishes only what is still missing. What this dedup cannot see (a
webhook retry racing a run, two runs at once) the worker catches: it applies a
``notification_id`` once (:mod:`app.domain.notification_merge`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
from aiokafka import AIOKafkaProducer
from elasticsearch import Elasticsearch, NotFoundError

from app.contracts.base import ContractError
from app.contracts.keepa_notifications import (
    KEEPA_NOTIFICATION,
    KEEPA_NOTIFICATIONS_TOPIC,
    KeepaNotification,
)
from app.domain.utc import format_utc, parse_utc, require_utc
from app.ingest.ingestion import ensure_app_topic, require_api_key
from app.ingest.producer import producer_options
from app.ingest.runs import ensure_index
from app.ingest.topic_reader import read_to_end
from app.keepa.client import KeepaProductClient
from app.keepa.tracking.client import KeepaTrackingClient
from app.settings import Settings

__all__ = [
    "NOTIFICATION_QUEUE_READS",
    "OVERLAP",
    "QUEUE_RETENTION",
    "SETTLE",
    "GapFillReport",
    "gap_fill",
    "gap_fill_with_settings",
    "load_watermark",
    "received_notification_ids",
    "select_missing",
]

log = logging.getLogger(__name__)

#: How long Keepa keeps a notification in its queue.
QUEUE_RETENTION: Final = timedelta(hours=24)
#: Each window starts this long before the last watermark (Keepa stamps whole minutes, and
#: its clock and ours may differ); the ids already on the topic make the overlap free.
OVERLAP: Final = timedelta(minutes=5)
#: Notifications younger than this are left to the next run: Keepa's one retry of a failed
#: POST comes about 15 s after the first.
SETTLE: Final = timedelta(minutes=1)
#: Logical index of the watermarks (one document per Keepa tracking list).
NOTIFICATION_QUEUE_READS: Final = "notification-queue-reads"

_DATE: Final = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
_LONG: Final = {"type": "long"}
NOTIFICATION_QUEUE_READS_MAPPING: Final[Mapping[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "tracking_list": {"type": "keyword"},
        "watermark": _DATE,
        "since": _DATE,
        "read_at": _DATE,
        "read": _LONG,
        "already_received": _LONG,
        "published": _LONG,
        "rejected": _LONG,
        "left_to_settle": _LONG,
        "tokens_consumed": _LONG,
        "tokens_left": _LONG,
        "refill_rate": _LONG,
    },
}


@dataclass(frozen=True, slots=True)
class GapFillReport:
    """One gap fill: the window, the counts, the tokens."""

    since: datetime
    watermark: datetime
    """Where the next run starts (minus :data:`OVERLAP`)."""
    read: int
    """Valid notifications in the queue's answer (distinct ids)."""
    already_received: int
    published: int
    rejected: int
    left_to_settle: int
    """Missing but younger than :data:`SETTLE`: left to the next run."""
    tokens_consumed: int
    tokens_left: int | None
    refill_rate: int | None

    def counts(self) -> dict[str, int]:
        """The run's counters by name (the DAG task's result, part of the watermark
        document)."""
        return {
            "read": self.read,
            "already_received": self.already_received,
            "published": self.published,
            "rejected": self.rejected,
            "left_to_settle": self.left_to_settle,
            "tokens_consumed": self.tokens_consumed,
        }

    def lines(self) -> list[str]:
        left = "unknown" if self.tokens_left is None else str(self.tokens_left)
        rate = "" if self.refill_rate is None else f", refill {self.refill_rate}/min"
        return [
            f"queue read since {format_utc(self.since)} (revise=1): {self.read} notifications, "
            f"{self.rejected} rejected",
            f"already received: {self.already_received}; published: {self.published} to "
            f"keepa.notifications; left for the next run (under {int(SETTLE.total_seconds())} "
            f"s old): {self.left_to_settle}",
            f"tokens: {self.tokens_consumed} consumed, {left} left{rate}",
            f"watermark: {format_utc(self.watermark)}",
        ]


def _document_id(tracking_list: str | None) -> str:
    return f"keepa-queue:{tracking_list or ''}"


def load_watermark(
    es: Elasticsearch, settings: Settings, tracking_list: str | None = None
) -> datetime | None:
    """The watermark of the last successful gap fill of ``tracking_list``, if any."""
    try:
        doc = es.get(index=settings.index(NOTIFICATION_QUEUE_READS), id=_document_id(tracking_list))
    except NotFoundError:
        return None
    return parse_utc(str(doc["_source"]["watermark"]))


def _store(
    es: Elasticsearch, settings: Settings, report: GapFillReport, tracking_list: str | None
) -> None:
    index = ensure_index(
        es, settings.index(NOTIFICATION_QUEUE_READS), NOTIFICATION_QUEUE_READS_MAPPING
    )
    es.index(
        index=index,
        id=_document_id(tracking_list),
        document={
            "tracking_list": tracking_list or "",
            "watermark": format_utc(report.watermark),
            "since": format_utc(report.since),
            "read_at": format_utc(datetime.now(UTC)),
            **report.counts(),
            "tokens_left": report.tokens_left,
            "refill_rate": report.refill_rate,
        },
        refresh="wait_for",
    )


class _IdOnly(msgspec.Struct):
    notification_id: str


_ID_DECODER: Final = msgspec.json.Decoder(_IdOnly)


def received_notification_ids(
    settings: Settings, since: datetime, *, timeout_s: float = 30.0
) -> set[str]:
    """The ``notification_id`` of every message on ``keepa.notifications`` whose Kafka
    timestamp is at or after ``since`` (a value that is not a notification is skipped: the
    worker dead-letters it)."""
    records = asyncio.run(
        read_to_end(
            settings.kafka_bootstrap_servers,
            settings.topic(KEEPA_NOTIFICATIONS_TOPIC),
            timeout_s=timeout_s,
            since_ms=int(require_utc(since, "since").timestamp() * 1000),
        )
    )
    ids: set[str] = set()
    for _key, value in records:
        if value is None:
            continue
        try:
            ids.add(_ID_DECODER.decode(value).notification_id)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
    return ids


async def _publish(
    settings: Settings, topic: str, notifications: Sequence[KeepaNotification]
) -> None:
    producer = AIOKafkaProducer(**producer_options(settings.kafka_bootstrap_servers))
    await producer.start()
    try:
        sent = [
            await producer.send(topic, KEEPA_NOTIFICATION.encode(n), key=n.asin.encode())
            for n in notifications
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def select_missing(
    queue: Iterable[KeepaNotification], received: set[str], settled_before: datetime
) -> tuple[list[KeepaNotification], int, int, int]:
    """(to publish oldest first, distinct read, already received, left to settle)."""
    seen: dict[str, KeepaNotification] = {}
    for notification in queue:
        seen.setdefault(notification.notification_id, notification)
    known = [n for i, n in seen.items() if i in received]
    new = [n for i, n in seen.items() if i not in received]
    ready = [n for n in new if n.created_at <= settled_before]
    ready.sort(key=lambda n: (n.created_at, n.asin, n.notification_id))
    return ready, len(seen), len(known), len(new) - len(ready)


def gap_fill(
    settings: Settings,
    *,
    es: Elasticsearch,
    tracking: KeepaTrackingClient,
    now: datetime,
    since: datetime | None = None,
) -> GapFillReport:
    """Read Keepa's queue since the watermark (or ``since``), publish what
    ``keepa.notifications`` lacks, store the new watermark (module doc)."""
    now = require_utc(now, "now")
    oldest = now - QUEUE_RETENTION
    tracking_list = tracking.tracking_list
    if since is None:
        watermark = load_watermark(es, settings, tracking_list)
        since = oldest if watermark is None else watermark - OVERLAP
    since = max(require_utc(since, "since"), oldest)
    topic = ensure_app_topic(settings, KEEPA_NOTIFICATIONS_TOPIC)
    queue = tracking.notifications(since, revise=True, received_at=now)
    for item in queue.rejected:
        log.warning("queue item %d rejected: %s", item.position, _describe(item.error, tracking))
    received = received_notification_ids(settings, since - OVERLAP)
    settled_before = now - SETTLE
    ready, read, known, settling = select_missing(queue.notifications, received, settled_before)
    if ready:
        asyncio.run(_publish(settings, topic, ready))
    state = queue.token_state
    report = GapFillReport(
        since=since,
        watermark=max(since, settled_before),
        read=read,
        already_received=known,
        published=len(ready),
        rejected=len(queue.rejected),
        left_to_settle=settling,
        tokens_consumed=queue.tokens_consumed,
        tokens_left=None if state is None else state.tokens_left,
        refill_rate=None if state is None else state.refill_rate,
    )
    _store(es, settings, report, tracking_list)
    log.info("gap fill: %s", "; ".join(report.lines()))
    return report


def _describe(error: ContractError, tracking: KeepaTrackingClient) -> str:
    return tracking.http.redact(str(error))


def gap_fill_with_settings(
    settings: Settings,
    *,
    now: datetime,
    since: datetime | None = None,
    es: Elasticsearch | None = None,
) -> GapFillReport:
    """:func:`gap_fill` with the clients of ``settings`` (``KEEPA_API_KEY``,
    ``KEEPA_API_URL``, Elasticsearch); what the CLI and the DAG run."""
    key = require_api_key(settings)
    owned_es = es is None
    client = Elasticsearch(settings.elasticsearch_url, request_timeout=30) if es is None else es
    try:
        with KeepaProductClient(key, base_url=settings.keepa_api_url) as http:
            return gap_fill(
                settings, es=client, tracking=KeepaTrackingClient(http), now=now, since=since
            )
    finally:
        if owned_es:
            client.close()
