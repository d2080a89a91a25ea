"""Keeps the ``fx-rates`` global table up to date from the ``fx.rates`` topic.

A message is read with the topic's contract (:func:`app.contracts.fx_rates.rate_from_message`).
The scheduler folds the topic with the same function (:func:`app.ingest.fx.latest_rate`). One
that cannot be used goes to ``fx.rates.dlq`` with its reason, and the last known rate stays in
force (a rate is never invented). The rate in force is read back by
:func:`tables.fx_rates.rate_in_force`."""

from __future__ import annotations

import logging
from typing import Any

from faust import StreamT

from app.contracts.base import ContractError
from app.contracts.fx_rates import rate_from_message
from app.dead_letters import dead_letter
from app.faust_app import app
from app.metrics import metrics
from app.topics import fx_rates, fx_rates_dlq
from tables.fx_rates import write_fx_rate

log = logging.getLogger(__name__)


@app.agent(fx_rates)
async def track_fx_rates(stream: StreamT[Any]) -> None:
    async for event in stream.events():
        try:
            rate = rate_from_message(event.key, event.value)
        except ContractError as exc:
            log.warning("dead-lettering an unusable fx.rates message: %s", exc)
            await dead_letter(fx_rates_dlq, event, exc.code, exc.message, counter="fx_rejected")
            continue
        write_fx_rate(event.key, rate)
        metrics.incr("fx_updates")
        log.info("EUR per GBP is now %s (as of %s)", rate.eur_per_gbp, rate.as_of)
