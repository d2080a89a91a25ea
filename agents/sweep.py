"""The sweep: one timer per worker (``SWEEP_INTERVAL_SECONDS``) that asks the detector to
re-evaluate ASINs of this worker's active partitions; the decisions are pure
(:mod:`app.domain.sweep`).

A timer may not write the tables (a table write belongs to the agent that owns the key's
partition, and would race it), so the sweep only *requests*: it publishes
:class:`app.contracts.reevaluations.ReevaluationRequest` messages to
``arbitrage.reevaluations`` (key = ASIN, co-partitioned with ``keepa.products``), which the
detector agent consumes with the Keepa input and handles like any event of the key. Each tick:

1. when the profile in force is not the one this worker last swept for (or its partition
   assignment changed), every ASIN of its active ``quotes`` partitions whose routes were
   evaluated with another profile version gets a ``profile_changed`` request;
2. every ASIN of its active ``open-opportunities`` partitions with an open route one of
   whose quotes is older than ``STALE_AFTER_HOURS`` now (wall clock, UTC) gets a
   ``wall_clock`` request with ``as_of`` = now.

Faust's RocksDB store iterates only the active partitions of a table (never standbys), so
each ASIN is swept by the one worker that owns it. A request already sent for the same
(ASIN, reason, profile version) is not sent again until it expires
(:class:`app.domain.sweep.PendingRequests`), so a slow detector is not flooded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from app.contracts.base import encode
from app.contracts.reevaluations import ReevaluationRequest
from app.domain.sweep import PendingRequests, Reason, RequestKey, is_stale_at, profile_requests
from app.faust_app import app, settings
from app.metrics import metrics
from app.policy_config import detection_policy
from app.publish import publish_confirmed
from app.topics import reevaluations
from tables.open_opportunities import open_quote_times
from tables.quotes import recorded_versions
from tables.seller_profile import profile_state

log = logging.getLogger(__name__)

POLICY = detection_policy(settings)
INTERVAL_S = settings.sweep_interval_seconds
#: A request not answered by what the sweep sees within this time is sent again.
PENDING = PendingRequests(ttl=max(60.0, 6 * INTERVAL_S))
#: Requests published concurrently (each one still confirmed by the broker).
CHUNK = 200
#: Open routes decoded between two yields to the event loop.
YIELD_EVERY = 200

_swept: tuple[str, frozenset[object]] | None = None


def _ready() -> bool:
    """False while partitions move or tables recover (what the tables hold is not final)."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    return not (app.rebalancing or recovery.in_recovery) and recovery.completed.is_set()


@app.timer(interval=INTERVAL_S)  # type: ignore[untyped-decorator]
async def sweep() -> None:
    try:
        await sweep_once(datetime.now(UTC), time.monotonic())
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the next tick tries again; the timer must keep running
        log.exception("sweep failed")
        metrics.error(f"sweep failed: {exc!r}")


async def sweep_once(now: datetime, monotonic: float) -> None:
    """One tick at wall-clock ``now`` (see the module doc)."""
    global _swept
    if not _ready():
        return
    metrics.incr("sweeps")
    PENDING.expire(monotonic)
    version = profile_state().version
    assignment = frozenset(app.assignor.assigned_actives())
    if _swept != (version, assignment):
        keys = profile_requests(list(recorded_versions()), version)
        if await _request_all(keys, "profile_changed", now, version, monotonic):
            _swept = (version, assignment)
    stale = []
    for n, (key, times) in enumerate(open_quote_times(), start=1):
        if is_stale_at(times, now, POLICY.stale_after):
            stale.append(key)
        if n % YIELD_EVERY == 0:
            # Decoding thousands of open routes in one go held the detector up for tens of
            # milliseconds every tick (the latency p99 of `arbitrage bench`).
            await asyncio.sleep(0)
    await _request_all(stale, "wall_clock", now, version, monotonic)


async def _request_all(
    keys: list[bytes], reason: Reason, now: datetime, version: str, monotonic: float
) -> bool:
    """Publish a request for each key not pending; True when all were confirmed."""
    todo = [k for k in keys if PENDING.should_send(RequestKey(k, reason, version), monotonic)]
    ok = True
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        results = await asyncio.gather(*(_request(k, reason, now, version) for k in chunk))
        for key, sent in zip(chunk, results, strict=True):
            if not sent:
                PENDING.forget(RequestKey(key, reason, version))
                ok = False
    if todo:
        log.info("sweep: %d %s request(s) sent", len(todo), reason)
    return ok


async def _request(key: bytes, reason: Reason, now: datetime, version: str) -> bool:
    try:
        request = ReevaluationRequest(
            asin=key.decode(), reason=reason, as_of=now, profile_version=version
        )
    except (UnicodeDecodeError, ValueError) as exc:  # a key no request can carry
        log.warning("sweep: no request for key %r: %s", key, exc)
        return True
    await publish_confirmed(reevaluations, key, encode(request), what="re-evaluation request")
    metrics.incr(f"reevaluation_requests_sent_{reason}")
    return True
