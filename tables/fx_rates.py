"""``fx-rates``: currency -> {"eur_per_gbp": "...", "as_of": "..."}; a global table, so every
worker knows the current rate whatever partitions it owns.

:func:`rate_in_force` is the one answer to "which EUR/GBP rate applies to this observation"
inside the worker: the detector evaluates every route with it and attaches it to the
observation it publishes, and the Elasticsearch sink stamps ``products`` and ``price-history``
with the attached rate (with this function only for observations published without one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.fx import FxRates
from app.faust_app import app, settings
from app.ingest.fx import FX_KEY_GBP
from app.policy_config import configured_fx

fx_rates_table = app.GlobalTable(
    "fx-rates",
    default=dict,
    key_type=bytes,
    partitions=1,
    help="Latest EUR reference rate per currency (from the fx.rates topic).",
)

#: Before any rate was published: ``FX_GBP_EUR``, as of the epoch (the scheduler's fallback too).
CONFIGURED_FX = configured_fx(settings)
_parsed: tuple[Mapping[str, Any] | None, FxRates] = (None, CONFIGURED_FX)


def rate_in_force() -> FxRates:
    """The EUR/GBP rate in force now: the newest usable rate from ``fx.rates`` (this table),
    or :data:`CONFIGURED_FX` before any was published."""
    global _parsed
    stored = fx_rates_table.get(FX_KEY_GBP)
    if not stored:
        return CONFIGURED_FX
    if stored != _parsed[0]:
        _parsed = (dict(stored), FxRates.from_dict(stored))
    return _parsed[1]
