"""Reading current prices out of a Keepa product's ``csv`` and ``stats.current``.

Keepa's ``csv`` is a list indexed by price type. Each entry is ``null`` or a flat int list
of ``[keepaMinute, price, keepaMinute, price, ...]``; for the types that include shipping
it is ``[keepaMinute, price, shipping, ...]`` triples. Prices are minor units of the
marketplace currency, ``-1`` = no offer / out of stock, ``-2`` = no data.
``stats.current`` (present when the product was requested with ``stats``) is indexed the
same way and already holds price + shipping for the shipping types.

Only the entries this application reads are validated (see :data:`PRICE_TYPES_READ`); a
quirk in a type we never use must not discard a quote we could price.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Any, Final, TypeGuard, cast

from app.domain.errors import InvalidEnvelope

__all__ = [
    "CSV_LENGTH",
    "MAX_PRICE_MINOR",
    "NO_DATA",
    "NO_OFFER",
    "PRICE_TYPES_READ",
    "STATS_DAYS",
    "PriceType",
    "current_price",
    "current_sales_rank",
    "is_int",
    "sales_rank",
]

#: The ``stats`` interval, in days, products are requested with (``/product?stats=90``):
#: ``stats.avg``, ``stats.minInInterval`` and ``stats.maxInInterval`` cover the last 90 days,
#: which :mod:`app.domain.signals` reads as the 90-day low and high.
STATS_DAYS: Final = 90

#: Prices above this many minor units (100,000.00 EUR/GBP) are treated as corrupt.
MAX_PRICE_MINOR = 10_000_000

#: The value of a price type without an offer now (out of stock) ...
NO_OFFER: Final = -1
#: ... and of one Keepa has no data for (in ``csv``, ``stats`` and a notification's
#: ``currentPrices``).
NO_DATA: Final = -2


class PriceType(IntEnum):
    """Index of a history in a product's ``csv`` (and in ``stats.current``, ``stats.avg90``...).

    The order and names are Keepa's ``Product.CsvType`` (a unit test pins them to the
    ``keepa`` package's ``csv_indices``). Not every type is a price: ``SALES`` is the sales
    rank, ``RATING`` and the ``COUNT_*`` types are counts. Histories whose name ends in
    ``_SHIPPING`` are triples ``[t, price, shipping, t, price, shipping, ...]``; all others are
    pairs ``[t, value, ...]``. In ``stats`` arrays the shipping types hold price + shipping.
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
        """True if the history is stored as ``[time, price, shipping]`` triples."""
        return self in _SHIPPING_TYPES

    @property
    def stride(self) -> int:
        """Numbers per data point in the ``csv`` history: 3 for shipping types, else 2."""
        return 3 if self in _SHIPPING_TYPES else 2


_SHIPPING_TYPES = frozenset(t for t in PriceType if t.name.endswith("_SHIPPING"))

#: Length of a product's ``csv`` array and of the ``stats`` arrays.
CSV_LENGTH = len(PriceType)

#: Price types whose current value is extracted (and therefore validated).
PRICE_TYPES_READ: tuple[PriceType, ...] = (
    PriceType.AMAZON,
    PriceType.NEW,
    PriceType.NEW_FBM_SHIPPING,
    PriceType.NEW_FBA,
    PriceType.BUY_BOX_SHIPPING,
)


def is_int(value: object) -> TypeGuard[int]:
    """True for a JSON integer (``bool`` is an ``int`` subclass in Python, but not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_price(value: object, where: str) -> int:
    if not is_int(value):
        raise InvalidEnvelope("nonsense_price", f"{where} is not an integer: {value!r}")
    if value < NO_DATA or value > MAX_PRICE_MINOR:
        raise InvalidEnvelope("nonsense_price", f"{where} is out of range: {value}")
    return value


def _csv_entry(csv: Sequence[object], index: PriceType) -> list[int] | None:
    """The validated ``csv[index]`` list, or None when absent/empty.

    Only the shape and the newest point are validated: that point is the only one used
    (histories hold thousands of points, checking them all would dominate the hot path).
    """
    if index >= len(csv) or csv[index] is None:
        return None
    entry = csv[index]
    name = index.name
    if not isinstance(entry, list):
        raise InvalidEnvelope("nonsense_price", f"csv[{index}] ({name}) is not a list")
    width = index.stride
    if len(entry) % width:
        raise InvalidEnvelope(
            "nonsense_price",
            f"csv[{index}] ({name}) has {len(entry)} values, not a multiple of {width}",
        )
    if not entry:
        return None
    last = len(entry) - width
    if not is_int(entry[last]):
        raise InvalidEnvelope(
            "nonsense_price", f"csv[{index}][{last}] ({name}) time is not an integer"
        )
    for pos in range(last + 1, len(entry)):
        _check_price(entry[pos], f"csv[{index}][{pos}] ({name})")
    return cast(list[int], entry)


def _stats_entry(stats_current: Sequence[object] | None, index: int) -> int | None:
    if stats_current is None or index >= len(stats_current) or stats_current[index] is None:
        return None
    return _check_price(stats_current[index], f"stats.current[{index}]")


def current_price(
    csv: Sequence[object], stats_current: Sequence[object] | None, price_type: PriceType
) -> int | None:
    """Current value of ``price_type`` in minor units, or None when unavailable.

    * ``stats.current[i]`` wins when it is > 0 (for shipping types it already includes
      shipping);
    * otherwise the last point of ``csv[i]``; for shipping types that is price + shipping,
      where a shipping of -1/-2 (unknown) counts as 0 - Keepa reports free shipping as 0,
      and an unknown shipping cost must not hide an offer that exists;
    * ``-1`` (no offer), ``-2`` (no data) and ``0`` (not a real price) mean unavailable.

    Raises :class:`InvalidEnvelope` (``nonsense_price``) for malformed values.
    """
    from_stats = _stats_entry(stats_current, price_type)
    entry = _csv_entry(csv, price_type)  # validated even when stats wins
    if from_stats is not None and from_stats > 0:
        return from_stats
    if entry is None:
        return None
    if price_type.has_shipping:
        price, shipping = entry[-2], entry[-1]
        return price + max(shipping, 0) if price > 0 else None
    price = entry[-1]
    return price if price > 0 else None


def current_sales_rank(csv: Sequence[object], stats_current: Sequence[object] | None) -> int | None:
    """Current sales rank (``stats.current[3]``, else the last point of ``csv[3]``).

    The rank is metadata: a malformed value yields None instead of an error.
    """
    index = PriceType.SALES
    if stats_current is not None and index < len(stats_current):
        value = stats_current[index]
        if is_int(value) and value > 0:
            return value
    if index < len(csv):
        entry = csv[index]
        if isinstance(entry, list) and entry and len(entry) % 2 == 0:
            last = entry[-1]
            if is_int(last) and last > 0:
                return last
    return None


def sales_rank(
    product: Mapping[str, Any], csv: Sequence[object], stats_current: Sequence[object] | None
) -> int | None:
    """The product's current sales rank: :func:`current_sales_rank` of its ``csv`` and
    ``stats.current``, else the newest rank of ``salesRanks[rootCategory]``; ``None`` when
    none is usable (a rank is metadata: never an error). The quote's rule
    (:mod:`app.domain.envelope`) and its signals' (:mod:`app.domain.signals`)."""
    return current_sales_rank(csv, stats_current) or _rank_from_sales_ranks(product)


def _rank_from_sales_ranks(product: Mapping[str, Any]) -> int | None:
    """Last rank of ``salesRanks[rootCategory]`` (``{"<cat id>": [time, rank, ...]}``)."""
    ranks = product.get("salesRanks")
    root = product.get("rootCategory")
    if not isinstance(ranks, dict) or not is_int(root):
        return None
    history = ranks.get(str(root))
    if isinstance(history, list) and len(history) >= 2 and len(history) % 2 == 0:
        last = history[-1]
        return last if is_int(last) and last > 0 else None
    return None
