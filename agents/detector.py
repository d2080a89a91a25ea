"""The detector: every ``keepa.products`` message updates the ASIN's quotes and re-evaluates
all of its routes at once, so an opportunity is emitted on the very event that opens it.
Every ``keepa.notifications`` message (a Keepa tracking notification: current prices only) is
merged into the stored quote of its market (:mod:`app.domain.notification_merge`) and the
merged quote then goes the way of a product's. Every ``arbitrage.reevaluations``
request (sent by the sweep, :mod:`agents.sweep`) re-evaluates the ASIN's stored quotes with
the profile in force and staleness at the request's ``as_of``. The three topics are consumed
by this one agent (co-partitioned: the same worker owns partition n of each and of the
tables), so all the work of a key is serialised and only this agent writes the tables.

Notifications: a duplicate (already applied, or same time and prices), an older one than the
stored quote and an EXPIRED one (no prices) change nothing and send nothing (counted:
``notifications_duplicate``, ``notifications_out_of_order``, ``notifications_expired``). One
for a market without a stored quote asks the ingestion for a normal fetch instead
(``keepa.fetch_requests``, :mod:`app.contracts.fetch_requests`; ``fetch_requests``); those
requests are confirmed by the broker before the batch is acknowledged. A notification that
cannot be read goes to ``keepa.notifications.dlq``.

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
from dataclasses import dataclass
from typing import Any, cast

from faust import Stream, StreamT
from faust.types import ChannelT, EventT

from app.contracts.base import ContractError, encode
from app.contracts.fetch_requests import FETCH_REQUEST, FetchRequest
from app.contracts.keepa_notifications import KeepaNotification, notification_from_message
from app.contracts.keepa_products import quote_from_message
from app.contracts.observations import Observation
from app.contracts.opportunities import OpportunityMessage
from app.contracts.reevaluations import request_from_message
from app.dead_letters import dead_letter
from app.domain.asin_state import AsinStep, apply_quote, reevaluate
from app.domain.detection import OpenOpportunity, Pricing
from app.domain.envelope import InvalidEnvelope
from app.domain.fee_schedule import default_fee_schedule
from app.domain.markets import Market
from app.domain.notification_merge import merge_notification
from app.domain.quote import MarketQuote
from app.faust_app import app, settings
from app.metrics import metrics
from app.policy_config import detection_policy
from app.publish import publish_all_confirmed
from app.topics import (
    KEEPA_NOTIFICATIONS,
    REEVALUATIONS,
    declare_all,
    detector_input,
    fetch_requests,
    keepa_notifications_dlq,
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


#: An actor handles the messages that are already waiting for it together, up to this
#: many: each key's state is read and decoded once per batch and written once, and the
#: batch's opportunity events are confirmed by the broker with one wait. A batch ends when
#: no further message is queued for the actor (or at this size), so a message is never held
#: back waiting for others: at a trickle every batch is one message; under a backlog
#: batches fill up.
BATCH_SIZE = 500

#: One lock per partition number: the actors of partition n of ``keepa.products`` and of
#: ``arbitrage.reevaluations`` (the same keys, co-partitioned) take turns with a key's state.
_partition_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)


@app.agent(detector_input, isolated_partitions=True)
async def detect_opportunities(stream: StreamT[Any]) -> None:
    """One actor per assigned input partition (``isolated_partitions``): partitions are
    processed concurrently, each in order, so one partition's wait for the broker does not
    hold up the others. A key's messages are all in one partition number of the two topics,
    whose actors share a lock, held for a whole batch: all the work of a key stays
    serialised.

    Faust acknowledges nothing by itself here (``noack``). Every message is handled in order
    against the state as the batch's earlier messages left it (:class:`_Batch`); when the
    batch ends, its opportunity events are confirmed by the broker, then the state that
    records them is written, and only then is the batch acknowledged. A crash anywhere
    before the acknowledgement redelivers the whole batch, which emits its events again (at
    least once; the sinks are idempotent) instead of finding the routes already open and
    emitting nothing. The actor never waits for a message while it holds an unacknowledged
    one: Faust waits for every handed-out message to be acknowledged before a rebalance."""
    await declare_all()
    # The actor's own channel (its one partition's messages) and a view of the stream that
    # Faust does not acknowledge by itself.
    queue = cast(ChannelT[Any], stream.channel).queue
    manual = cast(Stream[Any], stream).noack()
    batch: _Batch | None = None
    try:
        async for event in manual.events():
            if batch is None:
                lock = _partition_locks[event.message.partition]
                await lock.acquire()
                batch = _Batch(lock)
            await batch.handle(event)
            if len(batch.messages) >= BATCH_SIZE or queue.empty():
                try:
                    await batch.commit()
                    for message in batch.messages:
                        await manual.ack(message)
                finally:
                    batch.lock.release()
                    batch = None
    except asyncio.CancelledError:
        # How the actor of a revoked partition stops when it is not waiting for a message
        # (``Actor.on_isolated_partition_revoked`` cancels it). Its unfinished batch is not
        # acknowledged; the partition's new owner handles it again. Re-raised, the
        # cancellation would count as a crash and Faust would restart the actor of a
        # partition this worker no longer holds.
        log.info("detector actor stopped (partition revoked or worker stopping)")
    finally:
        if batch is not None:  # (a batch holds its lock)
            batch.lock.release()


@dataclass(slots=True)
class _KeyState:
    """A key's state while a batch is handled: read from the tables once, written once."""

    quotes: dict[Market, MarketQuote]
    open: dict[str, OpenOpportunity]
    #: Whether open routes were stored before the batch (none then and none now: no write).
    stored_open: bool
    profile_version: str | None = None
    changed: bool = False


class _Batch:
    """One batch of an actor: its messages, the keys they touch and the opportunity events
    they produced, in order; ``lock`` is the partition number's, held by the actor until the
    batch is committed."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self.lock = lock
        self.messages: list[EventT[Any]] = []
        self.keys: dict[bytes, _KeyState] = {}
        self.events: list[tuple[bytes, str, bytes]] = []
        #: Fetch requests (ASIN, encoded :class:`FetchRequest`), for notifications of a
        #: market without a quote.
        self.fetches: list[tuple[bytes, bytes]] = []

    async def handle(self, event: EventT[Any]) -> None:
        self.messages.append(event)
        topic = event.message.topic
        if topic == REEVALUATIONS:
            await _on_request(event, self)
        elif topic == KEEPA_NOTIFICATIONS:
            await _on_notification(event, self)
        else:
            await _on_keepa_event(event, self)

    def state(self, key: bytes) -> _KeyState:
        held = self.keys.get(key)
        if held is None:
            open_ = read_open_routes(key)
            held = self.keys[key] = _KeyState(read_quotes(key), open_, bool(open_))
        return held

    def record(
        self, key: bytes, step: AsinStep, events: list[tuple[str, bytes]], profile_version: str
    ) -> None:
        held = self.keys[key]
        held.quotes = step.quotes
        held.open = step.open
        held.profile_version = profile_version
        held.changed = True
        self.events.extend((key, kind, value) for kind, value in events)
        if step.unpriced:
            metrics.incr("routes_unpriced", len(step.unpriced))

    async def commit(self) -> None:
        """Deliver the batch's events, then write the state that records them.

        Every opportunity event is confirmed by the broker before that state is written: the
        table changelogs and the events share one producer, so without the wait a kill -9
        could deliver the state and lose the event."""
        await publish_all_confirmed(
            opportunities,
            [(key, value) for key, _, value in self.events],
            what="opportunity event",
        )
        for _, kind, _ in self.events:
            metrics.incr(f"opportunities_{kind}")
        if self.fetches:
            await publish_all_confirmed(fetch_requests, self.fetches, what="fetch request")
            metrics.incr("fetch_requests", len(self.fetches))
        # The changelog records go to the partition of Faust's current event (the batch's
        # last message): all of the batch comes from this actor's one partition number.
        for key, held in self.keys.items():
            if not held.changed:
                continue
            write_quotes(key, held.quotes, held.profile_version)
            if held.open or held.stored_open:
                write_open_routes(key, held.open)


def _pricing() -> Pricing:
    """The rate and profile in force now (read once per event) and the fee schedule."""
    profile = profile_state()
    return Pricing(rate_in_force(), profile.profile, profile.version, SCHEDULE)


async def _on_keepa_event(event: EventT[Any], batch: _Batch) -> None:
    metrics.incr("keepa_events")
    key = event.key
    if not key:
        await dead_letter(keepa_products_dlq, event, "missing_key", "the key must be the ASIN")
        return
    try:
        quote = quote_from_message(key, event.value, spike_share=POLICY.spike_share)
    except (ContractError, InvalidEnvelope) as exc:
        await dead_letter(keepa_products_dlq, event, exc.code, exc.message)
        return
    try:
        pricing = _pricing()
        held = batch.state(key)
        step = apply_quote(quote, held.quotes, held.open, POLICY, pricing)
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
    batch.record(key, step, events, pricing.profile_version)


async def _on_notification(event: EventT[Any], batch: _Batch) -> None:
    metrics.incr("keepa_notifications")
    try:
        notification = notification_from_message(event.key, event.value)
    except ContractError as exc:
        await dead_letter(
            keepa_notifications_dlq, event, exc.code, exc.message, counter="notification_rejected"
        )
        return
    key = event.key
    assert key is not None  # (notification_from_message refuses a message without one)
    try:
        held = batch.state(key)
        merge = merge_notification(
            held.quotes.get(notification.market), notification, spike_share=POLICY.spike_share
        )
        if merge.quote is None:
            _unmerged(key, notification, merge.outcome, batch)
            return
        pricing = _pricing()
        step = apply_quote(merge.quote, held.quotes, held.open, POLICY, pricing)
        observation = encode(Observation.from_quote(merge.quote, pricing.fx))
        events = _encoded_events(step)
    except Exception as exc:  # a bug must not stop the stream; the input is kept
        log.exception("merging the notification of %r failed", key)
        metrics.error(f"notification processing failed: {exc!r}")
        await dead_letter(
            keepa_notifications_dlq,
            event,
            "processing_error",
            repr(exc),
            counter="notification_rejected",
        )
        return
    await observations.send(key=key, value=observation)
    metrics.incr("notifications_merged")
    batch.record(key, step, events, pricing.profile_version)


def _unmerged(key: bytes, notification: KeepaNotification, outcome: str, batch: _Batch) -> None:
    """Count a notification that changes nothing; ask for a fetch of one without a quote."""
    metrics.incr(f"notifications_{outcome}")
    if outcome != "no_quote":
        return
    request = FetchRequest(
        asin=notification.asin,
        market=notification.market,
        reason="notification_without_quote",
        notification_id=notification.notification_id,
        requested_at=notification.received_at,
    )
    batch.fetches.append((key, FETCH_REQUEST.encode(request)))


async def _on_request(event: EventT[Any], batch: _Batch) -> None:
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
        held = batch.state(key)
        step = reevaluate(
            held.quotes,
            held.open,
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
    batch.record(key, step, events, pricing.profile_version)


def _encoded_events(step: AsinStep) -> list[tuple[str, bytes]]:
    return [
        (
            e.event,
            encode(
                OpportunityMessage.from_event(
                    e, step.quotes.get(e.sell_market), step.quotes.get(e.buy_market)
                )
            ),
        )
        for e in step.events
    ]
