"""Foreign-exchange rates used to bring every amount to EUR cents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.domain.money import Currency, round_half_up
from app.domain.utc import require_utc

__all__ = ["FxRates"]


@dataclass(frozen=True, slots=True)
class FxRates:
    """EUR per 1 GBP (e.g. ``Decimal("1.17")``), valid as of ``as_of`` (aware, UTC)."""

    eur_per_gbp: Decimal
    as_of: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.eur_per_gbp, Decimal):
            raise TypeError("eur_per_gbp must be a Decimal")
        if not self.eur_per_gbp.is_finite() or self.eur_per_gbp <= 0:
            raise ValueError(f"eur_per_gbp must be a positive number, got {self.eur_per_gbp}")
        object.__setattr__(self, "as_of", require_utc(self.as_of, "as_of"))

    def eur_per(self, currency: str) -> Decimal:
        """EUR per one unit of ``currency``; raises ``UnknownCurrencyError``."""
        match Currency.parse(currency):
            case Currency.EUR:
                return Decimal(1)
            case Currency.GBP:
                return self.eur_per_gbp

    def to_eur_cents(self, amount_minor: int, currency: str) -> int:
        """Convert minor units of ``currency`` to EUR cents.

        EUR is returned unchanged; GBP pence are multiplied by :attr:`eur_per_gbp` and
        rounded half-up to the cent (1999 p x 1.17 = 2338.83 -> 2339 c). Pence are never
        taken for cents. Unknown currencies raise ``UnknownCurrencyError`` (a ValueError).
        """
        rate = self.eur_per(currency)
        if rate == 1:
            return amount_minor
        return round_half_up(Decimal(amount_minor) * rate)
