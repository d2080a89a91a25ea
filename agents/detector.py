"""The detector: every ``keepa.products`` message updates the ASIN's quotes and re-evaluates
all of its routes at once, so an opportunity is emitted on the very event that opens it.

Unusable input never stops the agent: it goes to ``keepa.products.dlq`` with the original
bytes and the reason in headers.

GBP amounts are converted with :func:`tables.fx_rates.rate_in_force`, read once per event; the
observation sent to the sink carries that rate (:class:`app.domain.observation.Observation`).
"""

from __future__ import annotations

import logging
from typing import Any

from faust import StreamT
from faust.types import EventT

from app.domain.asin_state import apply_quote
from app.domain.envelope import InvalidEnvelope, parse_envelope
from app.domain.observation import Observation
from app.faust_app import app, settings
from app.metrics import metrics
from app.policy_config import pricing_policy
from app.topics import declare_all, keepa_products, keepa_products_dlq, observations, opportunities
from tables.fx_rates import rate_in_force
from tables.open_opportunities import open_opportunities_table
from tables.quotes import quotes_table

log = logging.getLogger(__name__)


POLICY = pricing_policy(settings)


async def dead_letter(event: EventT[Any], code: str, message: str) -> None:
    msg = event.message
    headers = {
        "dlq.reason": code.encode(),
        "dlq.error": message.encode()[:1000],
        "dlq.source.topic": msg.topic.encode(),
        "dlq.source.partition": str(msg.partition).encode(),
        "dlq.source.offset": str(msg.offset).encode(),
    }
    await keepa_products_dlq.send(key=msg.key, value=msg.value or b"", headers=headers)
    metrics.incr("dlq")
    metrics.dlq_reasons[code] += 1


@app.agent(keepa_products)
async def detect_opportunities(stream: StreamT[Any]) -> None:
    await declare_all()
    async for event in stream.events():
        metrics.incr("keepa_events")
        key = event.key
        if not key:
            await dead_letter(event, "missing_key", "message key must be the ASIN")
            continue
        try:
            quote = parse_envelope(key, event.value)
        except InvalidEnvelope as exc:
            await dead_letter(event, exc.code, exc.message)
            continue
        fx = rate_in_force()
        try:
            step = apply_quote(
                quote,
                quotes_table.get(key),
                open_opportunities_table.get(key),
                POLICY,
                fx,
            )
        except Exception as exc:  # a bug must not stop the stream; the input is kept
            log.exception("processing %r failed", key)
            metrics.error(f"processing failed: {exc!r}")
            await dead_letter(event, "processing_error", repr(exc))
            continue
        # The rate goes with the observation: the sink stamps products and price history with
        # exactly the rate these opportunity events were computed with.
        await observations.send(key=key, value=Observation(quote, fx).to_dict())
        if not step.accepted:
            metrics.incr("out_of_order_quotes")
            continue
        quotes_table[key] = step.quotes
        if step.open:
            open_opportunities_table[key] = step.open
        elif key in open_opportunities_table:
            del open_opportunities_table[key]  # a tombstone keeps the changelog small
        for document in step.event_documents():
            await opportunities.send(key=key, value=document)
            metrics.incr(f"opportunities_{document['event']}")
