"""The detector: every ``keepa.products`` message updates the ASIN's quotes and re-evaluates
all of its routes at once, so an opportunity is emitted on the very event that opens it.
Every ``arbitrage.reevaluations`` request (sent by the sweep, :mod:`agents.sweep`) re-evaluates
the ASIN's stored quotes with the profile in force and staleness at the request's ``as_of``.
Both topics are consumed by this one agent (co-partitioned: the same worker owns partition n
of both and of the tables), so all the work of a key is serialised and only this agent writes
the tables.

Messages are read with the topic's contract (:mod:`app.contracts.keepa_products`) and what
goes out is built from the contract types. Unusable input never stops the agent: it goes to
``keepa.products.dlq`` with the original bytes and the reason in headers.

Every route is priced by :func:`app.domain.fees.price_route` with, read once per event, the
EUR/GBP rate :func:`tables.fx_rates.rate_in_force` and the seller profile
:func:`tables.seller_profile.profile_state` (its version goes into every opportunity event),
and the fee schedule shipped in the package (loaded once at import). The observation sent to
the sink carries that rate (:class:`app.contracts.observations.Observation`). A route the fee
schedule cannot price (no figure in force for what the profile asks, e.g. EFN across the
UK-EU border) has no evaluation; it is counted in ``routes_unpriced``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from faust import StreamT
from faust.types import EventT

from app.contracts.base import ContractError, encode
from app.contracts.keepa_products import quote_from_message
from app.contracts.observations import Observation
from app.contracts.opportunities import OpportunityMessage
from app.contracts.reevaluations import request_from_message
from app.dead_letters import dead_letter
from app.domain.asin_state import AsinStep, apply_quote, reevaluate
from app.domain.detection import Pricing
from app.domain.envelope import InvalidEnvelope
from app.domain.fee_schedule import default_fee_schedule
from app.faust_app import app, settings
from app.metrics import metrics
from app.policy_config import detection_policy
from app.publish import publish_confirmed
from app.topics import (
    REEVALUATIONS,
    declare_all,
    detector_input,
    keepa_products_dlq,
    observations,
    opportunities,
    reevaluations_dlq,
)
from tables.fx_rates import rate_in_force
from tables.open_opportunities import read_open_routes, write_open_routes
from tables.quotes import read_quotes, write_quotes
from tables.seller_profile import profile_state

log = logging.getLogger(__name__)


POLICY = detection_policy(settings)
SCHEDULE = default_fee_schedule()


#: One lock per partition number: the actors of partition n of ``keepa.products`` and of
#: ``arbitrage.reevaluations`` (the same keys, co-partitioned) take turns with a key's state.
_partition_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)


@app.agent(detector_input, isolated_partitions=True)
async def detect_opportunities(stream: StreamT[Any]) -> None:
    """One actor per assigned input partition (``isolated_partitions``): partitions are
    processed concurrently, each in order, so one partition's wait for the broker (every
    opportunity event is confirmed before the state that records it is written) does not
    hold up the others. A key's messages are all in one partition number of the two topics,
    whose actors share a lock: all the work of a key stays serialised."""
    await declare_all()
    async for event in stream.events():
        async with _partition_locks[event.message.partition]:
            if event.message.topic == REEVALUATIONS:
                await _on_request(event)
            else:
                await _on_keepa_event(event)


def _pricing() -> Pricing:
    """The rate and profile in force now (read once per event) and the fee schedule."""
    profile = profile_state()
    return Pricing(rate_in_force(), profile.profile, profile.version, SCHEDULE)


async def _on_keepa_event(event: EventT[Any]) -> None:
    metrics.incr("keepa_events")
    key = event.key
    if not key:
        await dead_letter(keepa_products_dlq, event, "missing_key", "the key must be the ASIN")
        return
    try:
        quote = quote_from_message(key, event.value)
    except (ContractError, InvalidEnvelope) as exc:
        await dead_letter(keepa_products_dlq, event, exc.code, exc.message)
        return
    try:
        pricing = _pricing()
        held_open = read_open_routes(key)
        step = apply_quote(quote, read_quotes(key), held_open, POLICY, pricing)
        # The rate goes with the observation: the sink stamps products and price history
        # with exactly the rate these opportunity events were computed with.
        observation = encode(Observation.from_quote(quote, pricing.fx))
        events = _encoded_events(step)
    except Exception as exc:  # a bug must not stop the stream; the input is kept
        log.exception("processing %r failed", key)
        metrics.error(f"processing failed: {exc!r}")
        await dead_letter(keepa_products_dlq, event, "processing_error", repr(exc))
        return
    await observations.send(key=key, value=observation)
    if not step.accepted:
        metrics.incr("out_of_order_quotes")
        return
    await _commit(key, step, events, pricing.profile_version, bool(held_open))


async def _on_request(event: EventT[Any]) -> None:
    metrics.incr("reevaluation_requests_received")
    key = event.key
    try:
        request = request_from_message(key, event.value)
    except ContractError as exc:
        await dead_letter(
            reevaluations_dlq, event, exc.code, exc.message, counter="reevaluation_rejected"
        )
        return
    assert key is not None  # (request_from_message refuses a request without one)
    try:
        pricing = _pricing()
        held_open = read_open_routes(key)
        step = reevaluate(
            read_quotes(key),
            held_open,
            POLICY,
            pricing,
            request.as_of,
            cause=request.cause,
        )
        events = _encoded_events(step)
    except Exception as exc:  # a bug must not stop the stream; the request is kept
        log.exception("re-evaluating %r failed", key)
        metrics.error(f"re-evaluation failed: {exc!r}")
        await dead_letter(
            reevaluations_dlq, event, "processing_error", repr(exc), counter="reevaluation_rejected"
        )
        return
    metrics.incr(f"reevaluations_{request.reason}")
    if not step.quotes and not step.open:
        return  # nothing held for the ASIN (e.g. a request from before a reset): no state
    await _commit(key, step, events, pricing.profile_version, bool(held_open))


def _encoded_events(step: AsinStep) -> list[tuple[str, bytes]]:
    return [
        (e.event, encode(OpportunityMessage.from_event(e, step.quotes.get(e.sell_market))))
        for e in step.events
    ]


async def _commit(
    key: bytes,
    step: AsinStep,
    events: list[tuple[str, bytes]],
    profile_version: str,
    had_open: bool,
) -> None:
    """Deliver the step's events, then write the state that records them (``had_open``:
    whether open routes were read for the key; none before and none now writes nothing)."""
    if step.unpriced:
        metrics.incr("routes_unpriced", len(step.unpriced))
    # Every opportunity event is confirmed by the broker before the state that says it was
    # sent is written: a crash in between redelivers the input, which emits the event again
    # (at least once; the sinks are idempotent) instead of finding the route already open
    # and emitting nothing. The table changelogs and the events share one producer, so
    # without the wait a kill -9 could deliver the state and lose the event.
    for kind, value in events:
        await publish_confirmed(opportunities, key, value, what="opportunity event")
        metrics.incr(f"opportunities_{kind}")
    write_quotes(key, step.quotes, profile_version)
    if step.open or had_open:
        write_open_routes(key, step.open)
