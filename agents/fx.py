"""Keeps the ``fx-rates`` global table up to date from the ``fx.rates`` topic.

A message is read by :func:`app.ingest.fx.rate_from_message`, the same function the scheduler
folds the topic with. A rate that cannot be used is logged and ignored: the last known rate
stays in force (a rate is never invented). The rate in force is read back by
:func:`tables.fx_rates.rate_in_force`."""

from __future__ import annotations

import logging
from typing import Any

from faust import StreamT

from app.faust_app import app
from app.ingest.fx import FxMessageError, rate_from_message
from app.metrics import metrics
from app.topics import fx_rates
from tables.fx_rates import fx_rates_table

log = logging.getLogger(__name__)


@app.agent(fx_rates)
async def track_fx_rates(stream: StreamT[Any]) -> None:
    async for key, value in stream.items():
        try:
            rates = rate_from_message(key, value)
        except FxMessageError as exc:
            log.warning("ignoring an fx.rates message: %s", exc)
            metrics.incr("fx_rejected")
            continue
        fx_rates_table[key] = rates.to_dict()
        metrics.incr("fx_updates")
        log.info("EUR per GBP is now %s (as of %s)", rates.eur_per_gbp, rates.as_of)
