"""The fetch requests on ``keepa.fetch_requests`` for the ingestion (without Faust): read the
pending ones, mark served ones done.

The detector asks for a normal fetch of an ASIN on a market when a Keepa notification comes
for a market of which it holds no quote (:mod:`app.contracts.fetch_requests`). The planner
of the ``keepa_ingest`` DAG reads the pending requests (:func:`read_pending_requests`: the
topic read to its end and folded), plans the requested pairs before every other
(:func:`app.ingest.scheduling.plan_fetches`, ``requested``), and each batch, once its
products are published, marks the requests of its pairs done (:func:`mark_done`): a
tombstone per ASIN, sent with ``acks=all``.

A request that arrives while its ASIN is being fetched may be marked done by that batch
without having been served by it (the tombstone follows it): the fetch happened at most the
batch's duration before, and a notification that finds no quote after it asks again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from app.contracts.fetch_requests import FETCH_REQUESTS_TOPIC, FetchRequest, pending_requests
from app.ingest.producer import producer_options
from app.ingest.topic_reader import read_to_end, topic_partitions
from app.settings import Settings

__all__ = [
    "mark_done",
    "mark_done_async",
    "read_pending_requests",
    "read_pending_requests_async",
    "requested_pairs",
]

log = logging.getLogger(__name__)


async def read_pending_requests_async(
    settings: Settings, *, timeout_s: float = 15.0
) -> dict[str, FetchRequest]:
    """The pending requests by ASIN (``{}`` while the topic does not exist)."""
    topic = settings.topic(FETCH_REQUESTS_TOPIC)
    messages = await read_to_end(settings.kafka_bootstrap_servers, topic, timeout_s=timeout_s)
    return pending_requests(messages)


def read_pending_requests(
    settings: Settings, *, timeout_s: float = 15.0
) -> dict[str, FetchRequest]:
    """Synchronous :func:`read_pending_requests_async` (not from a running event loop)."""
    return asyncio.run(read_pending_requests_async(settings, timeout_s=timeout_s))


def requested_pairs(requests: Iterable[FetchRequest]) -> list[tuple[str, str]]:
    """The (ASIN, market code) pairs of ``requests``, oldest request first (what
    :func:`app.ingest.scheduling.plan_fetches` takes as ``requested``)."""
    ordered = sorted(requests, key=lambda r: (r.requested_at, r.asin))
    return [(r.asin, r.market.value) for r in ordered]


async def mark_done_async(
    settings: Settings, asins: Iterable[str], *, timeout_s: float = 15.0
) -> int:
    """Tombstone the requests of ``asins``; how many were sent (after the broker's
    acknowledgement). Nothing is sent while the topic does not exist (no request either)."""
    keys = sorted(set(asins))
    topic = settings.topic(FETCH_REQUESTS_TOPIC)
    bootstrap = settings.kafka_bootstrap_servers
    if not keys or not await topic_partitions(bootstrap, topic, timeout_s):
        return 0
    producer = AIOKafkaProducer(
        **producer_options(bootstrap, request_timeout_ms=int(timeout_s * 1000))
    )
    await producer.start()
    try:
        sent = [await producer.send(topic, None, key=asin.encode()) for asin in keys]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    log.info("%d fetch requests marked done on %s", len(keys), topic)
    return len(keys)


def mark_done(settings: Settings, asins: Iterable[str], *, timeout_s: float = 15.0) -> int:
    """Synchronous :func:`mark_done_async` (not from a running event loop)."""
    return asyncio.run(mark_done_async(settings, asins, timeout_s=timeout_s))
