"""Currencies and the single rounding rule used for money.

Amounts are ``int`` minor units (cents for EUR, pence for GBP). Whenever a computation
produces a fraction of a minor unit (VAT extraction, FX conversion, percentage fees) it is
rounded with :func:`round_half_up`: to the nearest whole minor unit, halves away from zero
(``Decimal`` ``ROUND_HALF_UP``), e.g. 2338.5 -> 2339 and -2.5 -> -3.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

__all__ = ["Currency", "UnknownCurrencyError", "round_half_up"]

_ONE = Decimal(1)


class UnknownCurrencyError(ValueError):
    """A currency code this application does not handle."""


class Currency(StrEnum):
    """ISO 4217 codes of the currencies of the tracked marketplaces."""

    EUR = "EUR"
    GBP = "GBP"

    @classmethod
    def parse(cls, value: str) -> Currency:
        """``"eur"``/``"EUR"`` -> ``Currency.EUR``; raises :class:`UnknownCurrencyError`."""
        if isinstance(value, Currency):
            return value
        try:
            return cls(value.strip().upper())
        except (ValueError, AttributeError):
            raise UnknownCurrencyError(f"unknown currency {value!r}") from None


def round_half_up(value: Decimal) -> int:
    """Round a Decimal amount of minor units to a whole minor unit, halves away from zero."""
    return int(value.quantize(_ONE, rounding=ROUND_HALF_UP))
