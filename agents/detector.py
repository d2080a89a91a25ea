"""The detector: every ``keepa.products`` message updates the ASIN's quotes and re-evaluates
all of its routes at once, so an opportunity is emitted on the very event that opens it.

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
from typing import Any

from faust import StreamT

from app.contracts.base import ContractError, encode
from app.contracts.keepa_products import quote_from_message
from app.contracts.observations import Observation
from app.contracts.opportunities import OpportunityMessage
from app.dead_letters import dead_letter
from app.domain.asin_state import apply_quote
from app.domain.detection import Pricing
from app.domain.envelope import InvalidEnvelope
from app.domain.fee_schedule import default_fee_schedule
from app.faust_app import app, settings
from app.metrics import metrics
from app.policy_config import detection_policy
from app.topics import declare_all, keepa_products, keepa_products_dlq, observations, opportunities
from tables.fx_rates import rate_in_force
from tables.open_opportunities import read_open_routes, write_open_routes
from tables.quotes import read_quotes, write_quotes
from tables.seller_profile import profile_state

log = logging.getLogger(__name__)


POLICY = detection_policy(settings)
SCHEDULE = default_fee_schedule()


@app.agent(keepa_products)
async def detect_opportunities(stream: StreamT[Any]) -> None:
    await declare_all()
    async for event in stream.events():
        metrics.incr("keepa_events")
        key = event.key
        if not key:
            await dead_letter(keepa_products_dlq, event, "missing_key", "the key must be the ASIN")
            continue
        try:
            quote = quote_from_message(key, event.value)
        except (ContractError, InvalidEnvelope) as exc:
            await dead_letter(keepa_products_dlq, event, exc.code, exc.message)
            continue
        try:
            fx = rate_in_force()
            profile = profile_state()
            pricing = Pricing(fx, profile.profile, profile.version, SCHEDULE)
            step = apply_quote(quote, read_quotes(key), read_open_routes(key), POLICY, pricing)
            # The rate goes with the observation: the sink stamps products and price history
            # with exactly the rate these opportunity events were computed with.
            observation = encode(Observation.from_quote(quote, fx))
            events = [
                (e.event, encode(OpportunityMessage.from_event(e, step.quotes.get(e.sell_market))))
                for e in step.events
            ]
        except Exception as exc:  # a bug must not stop the stream; the input is kept
            log.exception("processing %r failed", key)
            metrics.error(f"processing failed: {exc!r}")
            await dead_letter(keepa_products_dlq, event, "processing_error", repr(exc))
            continue
        await observations.send(key=key, value=observation)
        if not step.accepted:
            metrics.incr("out_of_order_quotes")
            continue
        if step.unpriced:
            metrics.incr("routes_unpriced", len(step.unpriced))
        # Every opportunity event is confirmed by the broker before the state that says it was
        # sent is written: a crash in between redelivers the input, which emits the event again
        # (at least once; the sinks are idempotent) instead of finding the route already open
        # and emitting nothing. The table changelogs and the events share one producer, so
        # without the wait a kill -9 could deliver the state and lose the event.
        for kind, value in events:
            await _deliver(key, value)
            metrics.incr(f"opportunities_{kind}")
        write_quotes(key, step.quotes)
        write_open_routes(key, step.open)


async def _deliver(key: bytes, value: bytes) -> None:
    """Publish one opportunity event and wait for the broker's acknowledgement, retrying
    with backoff while it is refused or the broker is unreachable (the stream waits)."""
    retry = 0
    while True:
        try:
            message = opportunities.as_future_message(key=key, value=value)
            await opportunities.publish_message(message, wait=True)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # refused, timed out, producer down: keep the event
            retry += 1
            metrics.error(f"opportunity not delivered: {exc!r}")
            log.warning("opportunity event not delivered (%r); retry %d", exc, retry)
            await asyncio.sleep(min(0.1 * 2**retry, 5.0))
