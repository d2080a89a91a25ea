"""Keepa's wire format: csv type indices and Keepa time (our Kafka envelope around a product
is :class:`app.contracts.keepa_products.KeepaProductsEnvelope`).

Nothing here parses or converts a product: products travel downstream exactly as Keepa
returns them. These are the few facts about the format that both the fetcher and the
synthetic sample generator need. Unit tests pin them to the ``keepa`` package
(``keepa.csv_indices``, ``keepa.KEEPA_ST_ORDINAL``), which is not imported here because it
drags in numpy and pandas.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import IntEnum

KEEPA_EPOCH = datetime(2011, 1, 1, tzinfo=UTC)
"""Keepa time is whole minutes since this instant."""

MAX_ASINS_PER_REQUEST = 100
"""Keepa accepts at most 100 ASINs in one /product request."""


class CsvType(IntEnum):
    """Index of a history in a product's ``csv`` (and in ``stats.current``, ``stats.avg90``...).

    The order is Keepa's ``Product.CsvType`` enum. Histories whose name ends in ``_SHIPPING``
    are triples ``[t, price, shipping, t, price, shipping, ...]``; all others are pairs
    ``[t, value, ...]``. In ``stats`` arrays the shipping types hold price + shipping.
    """

    AMAZON = 0
    NEW = 1
    USED = 2
    SALES = 3
    LISTPRICE = 4
    COLLECTIBLE = 5
    REFURBISHED = 6
    NEW_FBM_SHIPPING = 7
    LIGHTNING_DEAL = 8
    WAREHOUSE = 9
    NEW_FBA = 10
    COUNT_NEW = 11
    COUNT_USED = 12
    COUNT_REFURBISHED = 13
    COUNT_COLLECTIBLE = 14
    EXTRA_INFO_UPDATES = 15
    RATING = 16
    COUNT_REVIEWS = 17
    BUY_BOX_SHIPPING = 18
    USED_NEW_SHIPPING = 19
    USED_VERY_GOOD_SHIPPING = 20
    USED_GOOD_SHIPPING = 21
    USED_ACCEPTABLE_SHIPPING = 22
    COLLECTIBLE_NEW_SHIPPING = 23
    COLLECTIBLE_VERY_GOOD_SHIPPING = 24
    COLLECTIBLE_GOOD_SHIPPING = 25
    COLLECTIBLE_ACCEPTABLE_SHIPPING = 26
    REFURBISHED_SHIPPING = 27
    EBAY_NEW_SHIPPING = 28
    EBAY_USED_SHIPPING = 29
    TRADE_IN = 30
    RENT = 31
    BUY_BOX_USED_SHIPPING = 32
    PRIME_EXCL = 33
    COUNT_NEW_FBA = 34
    COUNT_NEW_FBM = 35

    @property
    def has_shipping(self) -> bool:
        """True if the history is stored as ``[t, price, shipping]`` triples."""
        return self.name.endswith("_SHIPPING")

    @property
    def stride(self) -> int:
        """Numbers per data point in the ``csv`` history: 3 for shipping types, else 2."""
        return 3 if self.has_shipping else 2


CSV_LENGTH = len(CsvType)
"""Length of a product's ``csv`` array and of the ``stats`` arrays."""


def to_keepa_minutes(when: datetime) -> int:
    """Keepa time (whole minutes since 2011-01-01 UTC) of an aware datetime, rounded down."""
    if when.tzinfo is None:
        raise ValueError("naive datetime; pass an aware datetime (UTC)")
    return (when - KEEPA_EPOCH) // timedelta(minutes=1)


def from_keepa_minutes(minutes: int) -> datetime:
    """The UTC datetime of a Keepa time."""
    return KEEPA_EPOCH + timedelta(minutes=minutes)
