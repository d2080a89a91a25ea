"""A product's current state on one marketplace, as parsed from one Keepa snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.domain.markets import Market
from app.domain.money import Currency
from app.domain.utc import format_utc, parse_utc, require_utc

__all__ = ["MarketQuote"]


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """What one ASIN costs / sells for on one marketplace at ``observed_at`` (event time).

    Prices are int minor units of :attr:`currency` (the market's currency), VAT included
    as displayed on Amazon. ``None`` means "no usable offer": a quote without any price is
    still valid (it closes opportunities that relied on the old price).

    ``prices`` holds the current value of each Keepa price type that was available
    (``{"AMAZON": 1999, "NEW_FBA": 2049, ...}``, shipping types include shipping); it feeds
    the price history.
    """

    asin: str
    market: Market
    title: str | None
    observed_at: datetime
    fetched_at: datetime
    buy_price: int | None
    sell_price: int | None
    referral_fee_rate: Decimal | None = None
    fba_fee: int | None = None
    package_weight_g: int | None = None
    package_length_mm: int | None = None
    package_width_mm: int | None = None
    package_height_mm: int | None = None
    sales_rank: int | None = None
    root_category: int | None = None
    image_url: str | None = None
    amazon_in_stock: bool = False
    prices: dict[str, int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "observed_at", require_utc(self.observed_at, "observed_at"))
        object.__setattr__(self, "fetched_at", require_utc(self.fetched_at, "fetched_at"))
        object.__setattr__(self, "prices", dict(self.prices))

    @property
    def currency(self) -> Currency:
        return self.market.currency

    @property
    def package_dims_mm(self) -> tuple[int, int, int] | None:
        """``(length, width, height)`` when all three are known."""
        dims = (self.package_length_mm, self.package_width_mm, self.package_height_mm)
        if dims[0] is None or dims[1] is None or dims[2] is None:
            return None
        return (dims[0], dims[1], dims[2])

    @property
    def product_url(self) -> str:
        return self.market.product_url(self.asin)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (ISO-8601 'Z' times, Decimal as str); inverse of :meth:`from_dict`."""
        return {
            "asin": self.asin,
            "market": self.market.value,
            "currency": self.currency.value,
            "title": self.title,
            "observed_at": format_utc(self.observed_at),
            "fetched_at": format_utc(self.fetched_at),
            "buy_price": self.buy_price,
            "sell_price": self.sell_price,
            "referral_fee_rate": (
                None if self.referral_fee_rate is None else str(self.referral_fee_rate)
            ),
            **{name: getattr(self, name) for name in _PLAIN_FIELDS},
            "amazon_in_stock": self.amazon_in_stock,
            "prices": dict(self.prices),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MarketQuote:
        """Rebuild a quote from :meth:`to_dict` output (``currency`` is derived, not read)."""
        rate = data.get("referral_fee_rate")
        return cls(
            asin=data["asin"],
            market=Market.parse(data["market"]),
            title=data.get("title"),
            observed_at=parse_utc(data["observed_at"]),
            fetched_at=parse_utc(data["fetched_at"]),
            buy_price=data.get("buy_price"),
            sell_price=data.get("sell_price"),
            referral_fee_rate=None if rate is None else Decimal(rate),
            **{name: data.get(name) for name in _PLAIN_FIELDS},
            amazon_in_stock=bool(data.get("amazon_in_stock", False)),
            prices={str(k): int(v) for k, v in (data.get("prices") or {}).items()},
        )


#: Optional fields that :meth:`MarketQuote.to_dict` writes and ``from_dict`` reads as they are.
_PLAIN_FIELDS: tuple[str, ...] = (
    "fba_fee",
    "package_weight_g",
    "package_length_mm",
    "package_width_mm",
    "package_height_mm",
    "sales_rank",
    "root_category",
    "image_url",
)
