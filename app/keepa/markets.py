"""Our Amazon EU marketplaces and the Keepa domain ids they map to.

Keepa identifies a marketplace by an integer ``domain`` (1 = com, 2 = co.uk, 3 = de, 4 = fr,
8 = it, 9 = es, ...); its Python package names them ``'GB'``, ``'DE'``, ... in ``keepa.DCODES``.
A unit test pins this table to ``keepa.DCODES`` so the two can never drift apart; the table
itself is local so that importing it does not pull in the ``keepa`` package (numpy + pandas,
seconds of import time).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Market:
    """One Amazon marketplace as Keepa sees it."""

    code: str
    """Our market code, identical to the ``keepa`` package's domain name ('DE', 'GB', ...)."""
    domain_id: int
    """Keepa's integer ``domain`` / ``domainId``."""
    currency: str
    """ISO currency of the marketplace; Keepa prices are integers of its smallest unit."""
    host: str
    """Amazon host name, for humans and links."""


MARKETS: dict[str, Market] = {
    "DE": Market("DE", 3, "EUR", "amazon.de"),
    "FR": Market("FR", 4, "EUR", "amazon.fr"),
    "IT": Market("IT", 8, "EUR", "amazon.it"),
    "ES": Market("ES", 9, "EUR", "amazon.es"),
    "GB": Market("GB", 2, "GBP", "amazon.co.uk"),
}
"""Every marketplace we track, by market code."""

MARKET_CODES: tuple[str, ...] = tuple(MARKETS)
"""Market codes in a fixed order: DE, FR, IT, ES, GB."""

_BY_DOMAIN_ID: dict[int, Market] = {m.domain_id: m for m in MARKETS.values()}


def get_market(code: str) -> Market:
    """The market for a code such as ``"DE"`` (case-insensitive); ``ValueError`` if unknown."""
    try:
        return MARKETS[code.strip().upper()]
    except KeyError:
        raise ValueError(
            f"unknown market {code!r}; expected one of {', '.join(MARKET_CODES)}"
        ) from None


def domain_id(code: str) -> int:
    """Keepa's domain id for a market code, e.g. ``domain_id("DE") == 3``."""
    return get_market(code).domain_id


def market_for_domain(keepa_domain_id: int) -> Market:
    """The market of a Keepa ``domainId``; ``ValueError`` if it is not one of ours."""
    try:
        return _BY_DOMAIN_ID[keepa_domain_id]
    except KeyError:
        raise ValueError(f"Keepa domain {keepa_domain_id} is not one of our markets") from None
