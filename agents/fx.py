"""Keeps the ``fx-rates`` global table up to date from the ``fx.rates`` topic.

A rate that cannot be used is logged and ignored: the last known rate stays in force (a rate
is never invented)."""

from __future__ import annotations

import logging
from typing import Any

from faust import StreamT

from app.domain.fx import FxRates
from app.faust_app import app
from app.metrics import metrics
from app.topics import fx_rates
from tables.fx_rates import fx_rates_table

log = logging.getLogger(__name__)


@app.agent(fx_rates)
async def track_fx_rates(stream: StreamT[Any]) -> None:
    async for key, value in stream.items():
        try:
            if key != b"GBP":
                raise ValueError(f"unsupported currency key {key!r}")
            rates = FxRates.from_dict(value)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            log.warning("ignoring unusable fx rate %r: %s", value, exc)
            metrics.incr("fx_rejected")
            continue
        fx_rates_table[key] = rates.to_dict()
        metrics.incr("fx_updates")
        log.info("EUR per GBP is now %s (as of %s)", rates.eur_per_gbp, rates.as_of)
