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

from collections.abc import Sequence
from enum import IntEnum
from typing import TypeGuard, cast

from app.domain.errors import InvalidEnvelope

__all__ = [
    "MAX_PRICE_MINOR",
    "PRICE_TYPES_READ",
    "PriceType",
    "current_price",
    "current_sales_rank",
    "has_shipping",
]

#: Prices above this many minor units (100,000.00 EUR/GBP) are treated as corrupt.
MAX_PRICE_MINOR = 10_000_000

_NO_OFFER = -1
_NO_DATA = -2


class PriceType(IntEnum):
    """Indexes of Keepa's ``csv`` / ``stats.current`` that this application reads."""

    AMAZON = 0
    NEW = 1
    SALES = 3  # sales rank, not a price
    NEW_FBM_SHIPPING = 7
    NEW_FBA = 10
    BUY_BOX_SHIPPING = 18


#: Price types whose current value is extracted (and therefore validated).
PRICE_TYPES_READ: tuple[PriceType, ...] = (
    PriceType.AMAZON,
    PriceType.NEW,
    PriceType.NEW_FBM_SHIPPING,
    PriceType.NEW_FBA,
    PriceType.BUY_BOX_SHIPPING,
)

# Keepa's "...SHIPPING" types: NEW_FBM_SHIPPING, BUY_BOX_SHIPPING and the used/collectible/
# refurbished/eBay shipping types 19-29 and BUY_BOX_USED_SHIPPING (32). TRADE_IN (30) and
# RENTAL (31) are plain pairs.
_SHIPPING_TYPES = frozenset({7, 18, *range(19, 30), 32})


def has_shipping(index: int) -> bool:
    """Whether ``csv[index]`` is made of ``[time, price, shipping]`` triples."""
    return index in _SHIPPING_TYPES


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_price(value: object, where: str) -> int:
    if not _is_int(value):
        raise InvalidEnvelope("nonsense_price", f"{where} is not an integer: {value!r}")
    if value < _NO_DATA or value > MAX_PRICE_MINOR:
        raise InvalidEnvelope("nonsense_price", f"{where} is out of range: {value}")
    return value


def _csv_entry(csv: Sequence[object], index: int) -> list[int] | None:
    """The validated ``csv[index]`` list, or None when absent/empty.

    Only the shape and the newest point are validated: that point is the only one used
    (histories hold thousands of points, checking them all would dominate the hot path).
    """
    if index >= len(csv) or csv[index] is None:
        return None
    entry = csv[index]
    name = PriceType(index).name
    if not isinstance(entry, list):
        raise InvalidEnvelope("nonsense_price", f"csv[{index}] ({name}) is not a list")
    width = 3 if has_shipping(index) else 2
    if len(entry) % width:
        raise InvalidEnvelope(
            "nonsense_price",
            f"csv[{index}] ({name}) has {len(entry)} values, not a multiple of {width}",
        )
    if not entry:
        return None
    last = len(entry) - width
    if not _is_int(entry[last]):
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
    if has_shipping(price_type):
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
        if _is_int(value) and value > 0:
            return value
    if index < len(csv):
        entry = csv[index]
        if isinstance(entry, list) and entry and len(entry) % 2 == 0:
            last = entry[-1]
            if _is_int(last) and last > 0:
                return last
    return None
