"""Currencies and the single rounding rule used for money.

Amounts are ``int`` minor units (cents for EUR, pence for GBP). Whenever a computation
produces a fraction of a minor unit (VAT extraction, FX conversion, percentage fees) it is
rounded with :func:`round_half_up`: to the nearest whole minor unit, halves away from zero
(``Decimal`` ``ROUND_HALF_UP``), e.g. 2338.5 -> 2339 and -2.5 -> -3.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction

__all__ = [
    "Currency",
    "Money",
    "UnknownCurrencyError",
    "format_money",
    "parse_eur_cents",
    "round_half_up",
]

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


def round_half_up(value: Decimal | Fraction) -> int:
    """Round an amount of minor units (a ``Decimal``, or an exact ``Fraction``) to a whole
    minor unit, halves away from zero."""
    if isinstance(value, Fraction):
        # |n|/d + 1/2, floored: exact integer arithmetic (d > 0 in a Fraction).
        magnitude = (2 * abs(value.numerator) + value.denominator) // (2 * value.denominator)
        return magnitude if value >= 0 else -magnitude
    return int(value.quantize(_ONE, rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of integer minor units of an explicit currency (``Money(1999, EUR)`` is
    EUR 19.99, ``Money(1999, GBP)`` GBP 19.99): for values that travel without the market
    that would tell their currency."""

    amount_minor: int
    currency: Currency

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError(f"amount_minor must be an int, got {self.amount_minor!r}")
        object.__setattr__(self, "currency", Currency.parse(self.currency))


_SYMBOLS = {Currency.EUR: "€", Currency.GBP: "£"}
_CENT = Decimal("0.01")


def format_money(minor: int, currency: Currency = Currency.EUR) -> str:
    """Integer minor units as money: ``926`` -> ``€9.26``, ``-123456`` -> ``-€1,234.56``."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    return f"{sign}{_SYMBOLS[currency]}{units:,}.{cents:02d}"


def parse_eur_cents(text: str) -> int:
    """An amount of euros typed by a person (``"5"``, ``"7.50"``, ``"-1.2"``) -> integer cents,
    exactly: at most two decimals, no exponent, no thousands separator; raises ``ValueError``
    naming what is wrong (``"7.505"`` is refused, never rounded)."""
    stripped = text.strip()
    if not stripped or any(c not in "+-.0123456789" for c in stripped):
        raise ValueError(f"not an amount of euros: {text!r} (e.g. 5 or 7.50)")
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        raise ValueError(f"not an amount of euros: {text!r} (e.g. 5 or 7.50)") from None
    if value != value.quantize(_CENT):
        raise ValueError(f"{text!r} has more than two decimals (whole cents only)")
    return int(value * 100)
