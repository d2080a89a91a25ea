"""One ``arbitrage.observations`` message: a parsed quote and the EUR/GBP rate the detector
evaluated it with, so the Elasticsearch sink stamps ``products`` and ``price-history`` with
exactly the rate the ``opportunities`` of that event were computed with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.fx import FxRates
from app.domain.quote import MarketQuote

__all__ = ["Observation"]


@dataclass(frozen=True, slots=True)
class Observation:
    """``fx`` is ``None`` only for a message published before rates were attached."""

    quote: MarketQuote
    fx: FxRates | None

    def to_dict(self) -> dict[str, Any]:
        """The quote's :meth:`MarketQuote.to_dict` plus ``"fx": {"eur_per_gbp", "as_of"}``."""
        fx = None if self.fx is None else self.fx.to_dict()
        return {**self.quote.to_dict(), "fx": fx}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Observation:
        fx = data.get("fx")
        return cls(MarketQuote.from_dict(data), None if fx is None else FxRates.from_dict(fx))
