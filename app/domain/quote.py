"""A product's current state on one marketplace, as parsed from one Keepa snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from app.domain.markets import Market
from app.domain.money import Currency
from app.domain.signals import MarketSignals
from app.domain.utc import require_utc

__all__ = ["MarketQuote", "QuoteSource"]

#: Where a quote's prices come from: a full Keepa product (``keepa.products``), or a Keepa
#: tracking notification merged into the stored quote of its market (``keepa.notifications``,
#: :mod:`app.domain.notification_merge`).
QuoteSource = Literal["product", "notification"]


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """What one ASIN costs / sells for on one marketplace at ``observed_at`` (event time).

    Prices are int minor units of :attr:`currency` (the market's currency), VAT included
    as displayed on Amazon. ``None`` means "no usable offer": a quote without any price is
    still valid (it closes opportunities that relied on the old price).

    ``prices`` holds the current value of each Keepa price type that was available
    (``{"AMAZON": 1999, "NEW_FBA": 2049, ...}``, shipping types include shipping); it feeds
    the price history.

    Provenance: ``source`` says where the prices come from; a ``notification`` quote carries
    the notification's id (``notification_id``) and took every field but its prices (and
    the buy/sell prices and ``amazon_in_stock`` derived from them) from the quote it updated.

    ``signals``: the quality signals of the product on this market
    (:func:`app.domain.signals.market_signals`), read from the Keepa product the quote was
    parsed from; a notification quote keeps the stored quote's, with the stability of its
    new sell price (:func:`app.domain.signals.with_sell_price`). ``None``: not known (a
    quote built without a Keepa product, or stored before quotes carried signals).
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
    source: QuoteSource = "product"
    notification_id: str | None = None
    signals: MarketSignals | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "observed_at", require_utc(self.observed_at, "observed_at"))
        object.__setattr__(self, "fetched_at", require_utc(self.fetched_at, "fetched_at"))
        object.__setattr__(self, "prices", dict(self.prices))
        if (self.source == "notification") != (self.notification_id is not None):
            raise ValueError(
                f"a {self.source} quote has {'no' if self.notification_id is None else 'a'} "
                "notification_id (only a notification quote has one)"
            )
        if self.signals is not None and self.signals.market is not self.market:
            raise ValueError(f"signals of {self.signals.market} on a quote of {self.market}")

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
