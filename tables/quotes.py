"""``quotes``: ASIN -> the latest quote of every market and the version of the profile its
routes were last evaluated with, stored as the bytes of a
:class:`app.contracts.tables.QuotesState` (read and written only through this module)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from app.contracts.tables import QUOTES_STATE, QuotesState, recorded_profile_version
from app.domain.markets import Market
from app.domain.quote import MarketQuote
from app.faust_app import app, settings
from tables.store_options import rocksdb_options

quotes_table = app.Table(
    "quotes",
    key_type=bytes,
    value_type=bytes,
    partitions=settings.topic_partitions,
    help="Latest quote per market, by ASIN.",
    options=rocksdb_options(),
)


def read_quotes(key: bytes) -> dict[Market, MarketQuote]:
    """The ASIN's quotes (``{}`` when none is held)."""
    stored: bytes | None = quotes_table.get(key)
    return {} if stored is None else QUOTES_STATE.decode(stored).quotes


def write_quotes(
    key: bytes, quotes: Mapping[Market, MarketQuote], profile_version: str | None
) -> None:
    """Store the quotes and the version of the profile the routes were just evaluated with
    (only the agent that owns the key's partition may call this)."""
    quotes_table[key] = QUOTES_STATE.encode(
        QuotesState(quotes=dict(quotes), profile_version=profile_version)
    )


def recorded_versions() -> Iterator[tuple[bytes, str | None]]:
    """``(ASIN, the profile version its routes were last evaluated with)`` for every ASIN of
    this worker's *active* partitions (Faust's RocksDB store iterates only those, never the
    standbys)."""
    for key, stored in quotes_table.items():
        yield key, recorded_profile_version(stored)
