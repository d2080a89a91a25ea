"""The Elasticsearch sink: parsed quotes and opportunity events, indexed in bulk batches.

**The sink never acknowledges a message it did not settle.** A message is *settled* when its
documents are in Elasticsearch (indexed, or refused with a 409 because the same or a newer
version is there) or, when Elasticsearch rejects them for good or they cannot be built, when
they are in ``arbitrage.sink.dlq`` with the broker's acknowledgement. At a stop, a message
that is not settled is *put back*: re-published to its own topic, with the broker's
acknowledgement, and only then acknowledged.

How that holds with Faust's acknowledgements (faust-streaming 0.15):

* Batches come from ``stream.noack_take``: Faust acknowledges nothing by itself. (Its
  ``take_events`` acknowledges a batch in a ``finally``: when the handling raised, was
  cancelled or the stream closed the generator too, which loses the batch.) The sink
  acknowledges a batch itself, whole, after it was settled or put back.
* A batch is handled until it is settled: ``BulkWriter`` retries Elasticsearch until it
  accepts; every dead letter is published with ``wait=True`` (a refused or undeliverable
  record raises instead of failing a future nobody reads) and retried with backoff until the
  broker confirms it. Any other exception while handling the batch is logged and the whole
  batch is handled again after a backoff (writes are idempotent): an exception never escapes
  the agent (one that did would restart it, and it would carry on with later messages while
  the failed batch was acknowledged or left behind).
* A batch's documents go out in several bulk requests, up to ``BULK_CONCURRENCY`` of them at
  once; that changes nothing above: the batch is settled only when every request was
  answered and every document is in Elasticsearch or dead-lettered.
* The stream hands out no further message while a batch is being handled, and a batch is
  acknowledged whole, so the acknowledged offsets of every partition are a contiguous prefix.
  Faust commits, per partition, the offset after the first run of consecutive acknowledged
  offsets: exactly up to the last batch that was settled or put back. (Faust's own check of a
  gap *before* the acknowledged offsets is not relied on: ``Consumer._new_offset`` lets a gap
  of one offset through, and any gap while the partition's committed offset is unset or 0.)
* Stop: ``_stop`` is set as soon as the app starts stopping. Faust then waits until every
  message it handed out is acknowledged (``stream_wait_empty``), so the sink stops retrying,
  puts the unsettled batch back (retried until the broker confirms; if the broker stays
  unreachable the worker waits until it is killed, and nothing was committed past the
  batch) and acknowledges it. Dead letters already sent for that batch may be sent again
  when it comes back (at least once).

Messages are read with their topics' contracts (:mod:`app.contracts.observations`,
:mod:`app.contracts.opportunities`); one that cannot be read (an unknown ``schema_version``,
a broken shape) is dead-lettered with the contract's reason, like a document Elasticsearch
rejects (:class:`app.contracts.dead_letters.SinkDeadLetter`).

So an Elasticsearch or DLQ outage delays indexing (the sink blocks and retries; the backlog
waits in Kafka) but loses nothing, and a redelivered or put-back batch duplicates nothing in
Elasticsearch (deterministic ids, external versions).

FX: an observation carries the EUR/GBP rate the detector evaluated it with
(:class:`app.contracts.observations.Observation`); ``products`` and ``price-history`` are stamped
with that rate, so they agree with the ``opportunities`` of the same event. An observation
published without a rate gets :func:`tables.fx_rates.rate_in_force`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

from elasticsearch import AsyncElasticsearch
from elasticsearch.serializer import OrjsonSerializer
from faust import StreamT
from faust.types import EventT, TopicT

from app.contracts.base import ContractError, encode
from app.contracts.dead_letters import SinkDeadLetter
from app.contracts.observations import OBSERVATION
from app.contracts.opportunities import OPPORTUNITY
from app.es.bulk import BulkWriter
from app.es.documents import opportunity_actions, product_actions
from app.es.indices import ensure_indices
from app.faust_app import app, settings
from app.metrics import metrics
from app.publish import publish_confirmed
from app.topics import observations, opportunities, sink_dlq
from tables.fx_rates import rate_in_force

log = logging.getLogger(__name__)

#: Messages per batch (or what came within ``BATCH_SECONDS``). An observation makes two
#: documents, so a full batch is ~4,000 documents: ``BULK_CONCURRENCY`` bulk requests of
#: ``BULK_CHUNK`` documents in flight at a time. A batch is still settled as a whole before
#: any of it is acknowledged; its requests only overlap each other.
BATCH_SIZE = 2000
BATCH_SECONDS = 0.5
#: Opportunities are few (one message per opened, updated or closed route) and a seller waits
#: for each: their batches close after 50 ms, not 0.5 s (issue 11: webhook POST to readable
#: through the API, p99 < 1 s; docs/performance.md, "Webhook to API").
OPPORTUNITY_BATCH_SECONDS = 0.05
BULK_CHUNK = 500
BULK_CONCURRENCY = 4

Build = Callable[[bytes], list[dict[str, Any]]]

_client: AsyncElasticsearch | None = None
_writer: BulkWriter | None = None
_writer_lock = asyncio.Lock()
_stop = asyncio.Event()


async def get_writer() -> BulkWriter:
    """The worker's one Elasticsearch client and writer (indices ensured on first use)."""
    global _client, _writer
    async with _writer_lock:
        if _writer is None:
            client = _client = AsyncElasticsearch(
                settings.elasticsearch_url, request_timeout=30, serializer=OrjsonSerializer()
            )
            while not _stop.is_set():
                try:
                    await ensure_indices(client, settings)
                    break
                except Exception as exc:  # ES not reachable yet: wait, never give up
                    log.warning("Elasticsearch not ready (%s); retrying in 2 s", exc)
                    metrics.error(f"ensure_indices: {exc!r}")
                    await asyncio.sleep(2)
            _writer = BulkWriter(
                client, stop=_stop, chunk_size=BULK_CHUNK, concurrency=BULK_CONCURRENCY
            )
        return _writer


@app.task  # type: ignore[untyped-decorator]
async def _create_indices_at_startup() -> None:
    await get_writer()


@app.task  # type: ignore[untyped-decorator]
async def _stop_with_the_app() -> None:
    """Set ``_stop`` as soon as the app starts stopping. Faust sends ``on_before_shutdown``
    only after every message it handed out was acknowledged, so an unsettled batch must stop
    retrying before that (it is put back, see :func:`sink_batch`) for the worker to stop."""
    await app.wait_until_stopped()
    _stop.set()


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _close_writer(app: Any, **kwargs: Any) -> None:
    _stop.set()
    if _writer is not None:
        _writer.close()
    if _client is not None:
        await _client.close()


async def _pause(writer: BulkWriter, retry: int) -> None:
    """The writer's backoff before retry number ``retry``, cut short by a stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_stop.wait(), writer.backoff_delay(retry))


async def sink_batch(
    stream: StreamT[Any],
    source: TopicT,
    events: Sequence[EventT[Any]],
    build: Build,
    kind: str,
) -> None:
    """Settle ``events``, or at a stop put them back on ``source``; then acknowledge them
    all (see the module doc). Returns only when one of the two is done."""
    if not events:
        return
    if _stop.is_set() or not await _settle(events, build, kind):
        await _put_back(source, events, kind)
    for event in events:
        await stream.ack(event)


async def _put_back(source: TopicT, events: Sequence[EventT[Any]], kind: str) -> None:
    """Re-publish ``events`` to their topic, each confirmed by the broker; retried until it
    is (no stop applies: this is what a stop does with an unsettled batch)."""
    log.warning("stopping: putting %d unsettled %s message(s) back", len(events), kind)
    writer = await get_writer()
    for event in events:
        await publish_confirmed(
            source,
            event.key,
            event.value,
            headers=event.headers,
            what="sink put back",
            delay=writer.backoff_delay,
        )
    metrics.incr("sink_requeued", len(events))


async def _settle(events: Sequence[EventT[Any]], build: Build, kind: str) -> bool:
    """Handle the batch until it is settled (True), or until a stop (False)."""
    failures = 0
    while not _stop.is_set():
        writer = await get_writer()
        try:
            return await _settle_once(writer, events, build, kind)
        except Exception as exc:  # unforeseen: the batch is kept and handled again
            failures += 1
            log.exception("sink: handling a batch of %d %s failed; retrying", len(events), kind)
            metrics.incr("sink_batch_failures")
            metrics.error(f"sink batch: {exc!r}")
            await _pause(writer, failures)
    return False


async def _settle_once(
    writer: BulkWriter, events: Sequence[EventT[Any]], build: Build, kind: str
) -> bool:
    """One pass: build, write, dead-letter what cannot be indexed. False on a stop."""
    actions: list[dict[str, Any]] = []
    letters: list[SinkDeadLetter] = []
    for event in events:
        try:
            actions.extend(build(event.value))
        except ContractError as exc:  # not a message of the topic's contract
            letters.append(_unreadable(event, exc.code, exc.message))
        except Exception as exc:  # whatever else the content makes the builders raise
            letters.append(_unreadable(event, "unindexable", repr(exc)))
    if actions:
        result = await writer.write(actions)
        metrics.incr(f"es_{kind}_indexed", result.indexed)
        metrics.incr(f"es_{kind}_stale", result.stale)
        metrics.incr("es_retries", result.retries)
        if result.pending:
            return False  # a stop came before Elasticsearch took everything
        letters.extend(
            SinkDeadLetter(reason="rejected", error=reason, action=action)
            for action, reason in result.rejected
        )
    for letter in letters:
        if not await _dead_letter(writer, letter):
            return False
    return True


def _unreadable(event: EventT[Any], code: str, error: str) -> SinkDeadLetter:
    """The dead letter of a consumed message that could not be indexed, and why."""
    msg = event.message
    return SinkDeadLetter(
        reason=code,
        error=error,
        source_topic=msg.topic,
        source_partition=msg.partition,
        source_offset=msg.offset,
        message=(msg.value or b"").decode("utf-8", "replace"),
    )


async def _dead_letter(writer: BulkWriter, letter: SinkDeadLetter) -> bool:
    """Send ``letter`` to ``arbitrage.sink.dlq`` and wait for the broker's acknowledgement,
    retrying with backoff until it comes; False if a stop comes first."""
    # Sent now and awaited until the broker acknowledged it (never deferred to the offset
    # commit, which waits for this very batch).
    delivered = await publish_confirmed(
        sink_dlq,
        None,
        encode(letter),
        what="sink dead letter",
        delay=writer.backoff_delay,
        stop=_stop,
        failures="sink_dlq_failures",
    )
    if delivered:
        metrics.incr("sink_dlq")
        metrics.dlq_reasons[f"sink_dlq:{letter.reason}"] += 1
    return delivered


def _observation(value: bytes) -> list[dict[str, Any]]:
    observation = OBSERVATION.decode(value)
    fx = observation.fx_rates() or rate_in_force()
    return product_actions(observation.to_quote(), fx, settings.index)


def _opportunity(value: bytes) -> list[dict[str, Any]]:
    return opportunity_actions(OPPORTUNITY.decode(value), settings.index)


async def _run(
    stream: StreamT[Any], source: TopicT, build: Build, kind: str, within: float
) -> None:
    """Batches of up to ``BATCH_SIZE`` events (or what came within ``within`` seconds), never
    acknowledged by Faust itself: ``noack_take`` yields the events, :func:`sink_batch` acks."""
    batches = stream.noack_take(BATCH_SIZE, within=within)  # type: ignore[attr-defined]
    async for batch in batches:
        await sink_batch(stream, source, cast(Sequence[EventT[Any]], batch), build, kind)


@app.agent(observations)
async def index_observations(stream: StreamT[Any]) -> None:
    await _run(stream, observations, _observation, "products", BATCH_SECONDS)


@app.agent(opportunities)
async def index_opportunities(stream: StreamT[Any]) -> None:
    await _run(stream, opportunities, _opportunity, "opportunities", OPPORTUNITY_BATCH_SECONDS)
