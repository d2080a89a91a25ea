"""``fx-rates``: currency (``b"GBP"``) -> the latest ``fx.rates`` message, stored as its bytes
(:class:`app.contracts.fx_rates.FxRate`); a global table, so every worker knows the current
rate whatever partitions it owns."""

from __future__ import annotations

from app.contracts.fx_rates import FX_RATE, FxRate
from app.faust_app import app

fx_rates_table = app.GlobalTable(
    "fx-rates",
    key_type=bytes,
    value_type=bytes,
    partitions=1,
    help="Latest EUR reference rate per currency (from the fx.rates topic).",
)


_last_read: tuple[bytes | None, FxRate | None] = (None, None)


def read_fx_rate(key: bytes) -> FxRate | None:
    """The latest rate of the currency, ``None`` before any (decoded once per new value)."""
    global _last_read
    stored: bytes | None = fx_rates_table.get(key)
    if stored is None:
        return None
    if stored != _last_read[0]:
        _last_read = (stored, FX_RATE.decode(stored))
    return _last_read[1]


def write_fx_rate(key: bytes, rate: FxRate) -> None:
    fx_rates_table[key] = FX_RATE.encode(rate)
