"""``fx-rates``: currency (``b"GBP"``) -> the latest ``fx.rates`` message, stored as its bytes
(:class:`app.contracts.fx_rates.FxRate`); a global table, so every worker knows the current
rate whatever partitions it owns.

:func:`rate_in_force` is the one answer to "which EUR/GBP rate applies to this observation"
inside the worker: the detector evaluates every route with it and attaches it to the
observation it publishes, and the Elasticsearch sink stamps ``products`` and ``price-history``
with the attached rate (with this function only for observations published without one)."""

from __future__ import annotations

from app.contracts.fx_rates import FX_KEY_GBP, FX_RATE, FxRate
from app.domain.fx import FxRates
from app.faust_app import app, settings
from app.policy_config import configured_fx
from tables.store_options import rocksdb_options

fx_rates_table = app.GlobalTable(
    "fx-rates",
    key_type=bytes,
    value_type=bytes,
    partitions=1,
    help="Latest EUR reference rate per currency (from the fx.rates topic).",
    options=rocksdb_options(),
)

#: Before any rate was published: ``FX_GBP_EUR``, as of the epoch (the scheduler's fallback too).
CONFIGURED_FX = configured_fx(settings)
_parsed: tuple[bytes | None, FxRates] = (None, CONFIGURED_FX)


def write_fx_rate(key: bytes, rate: FxRate) -> None:
    """Hold ``rate`` as the latest of its currency."""
    fx_rates_table[key] = FX_RATE.encode(rate)


def rate_in_force() -> FxRates:
    """The EUR/GBP rate in force now: the newest usable rate from ``fx.rates`` (this table),
    or :data:`CONFIGURED_FX` before any was published (decoded once per new value)."""
    global _parsed
    stored: bytes | None = fx_rates_table.get(FX_KEY_GBP)
    if stored is None:
        return CONFIGURED_FX
    if stored != _parsed[0]:
        _parsed = (stored, FX_RATE.decode(stored).to_rates())
    return _parsed[1]
