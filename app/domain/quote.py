"""A product's current state on one marketplace, as parsed from one Keepa snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from app.domain.markets import Market
from app.domain.money import Currency
from app.domain.utc import require_utc

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
