"""The watchlist's rules: what a tracked ASIN is and how its fields are normalised (pure).

Every way onto the watchlist applies these rules: a watchlist file, ``arbitrage watchlist
add``, the best-seller discovery (Airflow) and ``POST /watchlist``. An entry is stored as
:meth:`WatchlistEntry.normalised` returns it: the ASIN trimmed and upper-cased (10 characters
``A-Z0-9``), the markets without duplicates in the canonical order (DE, FR, IT, ES, GB; none =
all five), a priority from 0 to :data:`MAX_PRIORITY`. How an entry is written to Elasticsearch
is :mod:`app.es.watchlist`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from app.domain.asin import normalise_asin
from app.domain.markets import MARKET_CODES, Market, UnknownMarketError

__all__ = [
    "DEFAULT_MARKETS",
    "MAX_PRIORITY",
    "WatchlistEntry",
    "check_priority",
    "merge_entries",
    "normalise_entries",
    "normalise_markets",
]

#: The markets of an entry that names none: all five, in canonical order.
DEFAULT_MARKETS: Final[tuple[str, ...]] = MARKET_CODES
#: Highest scheduling priority (docs/scheduling.md); the lowest is 0.
MAX_PRIORITY: Final = 10


@dataclass(frozen=True, slots=True)
class WatchlistEntry:
    """One tracked ASIN. ``priority`` 0-10 shortens its refresh interval (docs/scheduling.md);
    ``source`` says who added it (``manual``, ``import``, ``discovery``, ``api``)."""

    asin: str
    markets: tuple[str, ...] = DEFAULT_MARKETS
    priority: int = 0
    source: str = "manual"
    note: str | None = None
    added_at: datetime | None = None

    def normalised(self) -> WatchlistEntry:
        """The entry as it is stored; ``ValueError`` naming the field that breaks a rule."""
        return replace(
            self,
            asin=normalise_asin(self.asin),
            markets=normalise_markets(self.markets),
            priority=check_priority(self.priority),
        )


def normalise_markets(value: str | Sequence[str]) -> tuple[str, ...]:
    """Market codes from ``"DE|FR"``, ``"DE FR"``, ``"de,fr"`` or a sequence, in canonical
    order without duplicates; empty means all five. ``ValueError`` names an unknown code."""
    if isinstance(value, str):
        for separator in "|,;":
            value = value.replace(separator, " ")
        codes = value.split()
    else:
        codes = [c.strip() for c in value if c.strip()]
    if not codes:
        return DEFAULT_MARKETS
    markets: set[Market] = set()
    unknown: set[str] = set()
    for code in codes:
        try:
            markets.add(Market.parse(code))
        except UnknownMarketError:
            unknown.add(code.upper())
    if unknown:
        raise ValueError(
            f"unknown market {', '.join(sorted(unknown))} (expected {'|'.join(DEFAULT_MARKETS)})"
        )
    return tuple(code for code in DEFAULT_MARKETS if Market(code) in markets)


def check_priority(value: int) -> int:
    """``value`` when it is a priority (0 to :data:`MAX_PRIORITY`); else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"priority {value!r} is not an integer")
    if not 0 <= value <= MAX_PRIORITY:
        raise ValueError(f"priority {value} is outside 0-{MAX_PRIORITY}")
    return value


def merge_entries(first: WatchlistEntry, again: WatchlistEntry) -> WatchlistEntry:
    """One entry for an ASIN given twice: union of the markets, the higher priority, the first
    note (the first entry's other fields)."""
    return replace(
        first,
        markets=normalise_markets([*first.markets, *again.markets]),
        priority=max(first.priority, again.priority),
        note=first.note or again.note,
    )


def normalise_entries(entries: Iterable[WatchlistEntry]) -> dict[str, WatchlistEntry]:
    """The entries normalised, by ASIN; an ASIN given twice is merged (:func:`merge_entries`).

    ``ValueError`` for the first entry that breaks a rule.
    """
    wanted: dict[str, WatchlistEntry] = {}
    for entry in entries:
        normalised = entry.normalised()
        held = wanted.get(normalised.asin)
        wanted[normalised.asin] = normalised if held is None else merge_entries(held, normalised)
    return wanted
