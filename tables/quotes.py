"""``quotes``: ASIN -> the latest quote of every market, stored as the bytes of a
:class:`app.contracts.tables.QuotesState` (read and written only through this module)."""

from __future__ import annotations

from collections.abc import Mapping

from app.contracts.tables import QUOTES_STATE, QuotesState
from app.domain.markets import Market
from app.domain.quote import MarketQuote
from app.faust_app import app, settings

quotes_table = app.Table(
    "quotes",
    key_type=bytes,
    value_type=bytes,
    partitions=settings.topic_partitions,
    help="Latest quote per market, by ASIN.",
)


def read_quotes(key: bytes) -> dict[Market, MarketQuote]:
    """The ASIN's quotes (``{}`` when none is held)."""
    stored: bytes | None = quotes_table.get(key)
    return {} if stored is None else QUOTES_STATE.decode(stored).quotes


def write_quotes(key: bytes, quotes: Mapping[Market, MarketQuote]) -> None:
    quotes_table[key] = QUOTES_STATE.encode(QuotesState(quotes=dict(quotes)))
