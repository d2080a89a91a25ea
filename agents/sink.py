"""The Elasticsearch sink: parsed quotes and opportunity events, indexed in bulk batches.

Messages are read with their topics' contracts (:mod:`app.contracts.observations`,
:mod:`app.contracts.opportunities`). ``stream.take`` acknowledges a batch only after the loop
body finished with it, and the ``BulkWriter`` retries (with backoff) until Elasticsearch
accepts every document, so an Elasticsearch outage delays indexing but loses nothing. Writes
are idempotent (deterministic ids, external versions), so a redelivered batch does not
duplicate anything. Documents that Elasticsearch rejects for good (a mapping error), and
messages that cannot be read (an unknown ``schema_version``, a broken shape), go to
``arbitrage.sink.dlq`` (:class:`app.contracts.dead_letters.SinkDeadLetter`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch.serializer import OrjsonSerializer
from faust import StreamT
from faust.types import EventT

from app.contracts.base import ContractError, encode
from app.contracts.dead_letters import SinkDeadLetter
from app.contracts.observations import OBSERVATION
from app.contracts.opportunities import OPPORTUNITY
from app.es.bulk import BulkWriter
from app.es.documents import opportunity_action, product_actions
from app.es.indices import ensure_indices
from app.faust_app import app, settings
from app.metrics import metrics
from app.policy_config import configured_fx
from app.topics import observations, opportunities, sink_dlq

log = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_SECONDS = 0.5

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
            _writer = BulkWriter(client, stop=_stop)
        return _writer


@app.task  # type: ignore[untyped-decorator]
async def _create_indices_at_startup() -> None:
    await get_writer()


@app.on_before_shutdown.connect  # type: ignore[arg-type]
async def _close_writer(app: Any, **kwargs: Any) -> None:
    _stop.set()
    if _writer is not None:
        _writer.close()
    if _client is not None:
        await _client.close()


async def _index_batch(
    events: Sequence[EventT[Any]],
    build: Callable[[bytes], list[dict[str, Any]]],
    kind: str,
) -> None:
    """Index one batch; on a permanent rejection dead-letter the document; when the worker
    stops before Elasticsearch took everything, put the batch back on its topic (Faust acks
    the batch anyway, and the writes are idempotent, so a second delivery is harmless)."""
    actions: list[dict[str, Any]] = []
    for event in events:
        try:
            actions.extend(build(event.value))
        except ContractError as exc:
            await _dead_letter(_unreadable(event, exc.code, exc.message))
        except (KeyError, TypeError, ValueError) as exc:
            await _dead_letter(_unreadable(event, "unindexable", repr(exc)))
    if not actions:
        return
    writer = await get_writer()
    result = await writer.write(actions)
    metrics.incr(f"es_{kind}_indexed", result.indexed)
    metrics.incr(f"es_{kind}_stale", result.stale)
    metrics.incr("es_retries", result.retries)
    for action, reason in result.rejected:
        await _dead_letter(SinkDeadLetter(reason="rejected", error=reason, action=action))
    if result.pending:
        log.warning("stopping with %d unindexed documents: re-publishing", len(result.pending))
        metrics.incr("sink_requeued", len(events))
        for event in events:
            await event.forward(event.message.topic)


def _unreadable(event: EventT[Any], code: str, error: str) -> SinkDeadLetter:
    msg = event.message
    value = msg.value or b""
    return SinkDeadLetter(
        reason=code,
        error=error,
        source_topic=msg.topic,
        source_partition=msg.partition,
        source_offset=msg.offset,
        message=value.decode("utf-8", "replace"),
    )


async def _dead_letter(letter: SinkDeadLetter) -> None:
    metrics.incr("sink_dlq")
    metrics.dlq_reasons[f"sink_dlq:{letter.reason}"] += 1
    await sink_dlq.send(key=None, value=encode(letter))


def _observation(value: bytes) -> list[dict[str, Any]]:
    return product_actions(OBSERVATION.decode(value).to_quote(), FX, settings.index)


def _opportunity(value: bytes) -> list[dict[str, Any]]:
    return [opportunity_action(OPPORTUNITY.decode(value), settings.index)]


FX = configured_fx(settings)


@app.agent(observations)
async def index_observations(stream: StreamT[Any]) -> None:
    async for batch in stream.take_events(  # type: ignore[attr-defined]
        BATCH_SIZE, within=BATCH_SECONDS
    ):
        await _index_batch(batch, _observation, "products")


@app.agent(opportunities)
async def index_opportunities(stream: StreamT[Any]) -> None:
    async for batch in stream.take_events(  # type: ignore[attr-defined]
        BATCH_SIZE, within=BATCH_SECONDS
    ):
        await _index_batch(batch, _opportunity, "opportunities")
