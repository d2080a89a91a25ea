"""``arbitrage.observations``: every valid observation as a parsed quote (for the sink).

Key: the ASIN. The detector publishes one :class:`Observation` per valid ``keepa.products``
message (an out-of-order one included: it still belongs to the price history) and per
``keepa.notifications`` message it merged into a stored quote (``source`` =
``notification``: not for a duplicate, an out-of-order or an EXPIRED notification), with the
EUR/GBP rate it evaluated the event with; the Elasticsearch sink turns it back into a
:class:`~app.domain.quote.MarketQuote` and stamps ``products`` and ``price-history`` with that
rate, so they agree with the ``opportunities`` of the same event.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final

import msgspec

from app.contracts.base import (
    Asin,
    Codec,
    Message,
    UtcDatetime,
    Version1,
    describe,
    require_finite,
)
from app.contracts.signals import MarketSignalsMessage
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.money import Currency
from app.domain.quote import MarketQuote, QuoteSource

__all__ = ["OBSERVATION", "Observation", "ObservationFx"]

_Count = Annotated[int, msgspec.Meta(gt=0)]


class ObservationFx(Message, kw_only=True, frozen=True):
    """The EUR/GBP rate an event was evaluated with."""

    eur_per_gbp: Annotated[Decimal, describe("EUR per 1 GBP, a decimal string")]
    as_of: Annotated[UtcDatetime, describe("when the rate was set")]

    def __post_init__(self) -> None:
        require_finite(self.eur_per_gbp, "fx.eur_per_gbp", positive=True)


class Observation(Message, kw_only=True, frozen=True):
    """One ASIN on one marketplace at ``observed_at`` (event time), as parsed from Keepa.

    Prices are gross (VAT included) in the market's minor units; ``null`` = no usable offer.
    """

    schema_version: Annotated[Version1, describe("1")] = 1
    asin: Asin
    market: Annotated[Market, describe("the marketplace")]
    currency: Annotated[Currency, describe("the market's currency (EUR, or GBP for GB)")]
    title: Annotated[str | None, describe("product title")] = None
    observed_at: Annotated[
        UtcDatetime,
        describe("event time: Keepa lastUpdate, else fetched_at (a notification: createDate)"),
    ]
    fetched_at: Annotated[
        UtcDatetime, describe("when the envelope was fetched (a notification: received)")
    ]
    buy_price: Annotated[int | None, describe("lowest of Amazon / new FBA / new FBM+shipping")]
    sell_price: Annotated[int | None, describe("Buy Box (with shipping), else new FBA")]
    referral_fee_rate: Annotated[
        Decimal | None, describe('Keepa\'s referral fee as a fraction, e.g. "0.15"')
    ] = None
    fba_fee: Annotated[int | None, describe("Keepa's FBA pick & pack fee, minor units")] = None
    package_weight_g: Annotated[_Count | None, describe("package weight, g")] = None
    package_length_mm: Annotated[_Count | None, describe("package length, mm")] = None
    package_width_mm: Annotated[_Count | None, describe("package width, mm")] = None
    package_height_mm: Annotated[_Count | None, describe("package height, mm")] = None
    sales_rank: Annotated[_Count | None, describe("current sales rank")] = None
    root_category: Annotated[_Count | None, describe("Keepa root category id")] = None
    image_url: Annotated[str | None, describe("first product image")] = None
    amazon_in_stock: Annotated[bool, describe("Amazon itself has a current offer")] = False
    prices: Annotated[
        dict[str, int], describe("current value per Keepa price type read, minor units")
    ] = msgspec.field(default_factory=dict)
    source: Annotated[
        QuoteSource,
        describe(
            "where the prices come from: product (a keepa.products message), notification "
            "(a Keepa notification merged into the stored quote; the other fields are that "
            "quote's)"
        ),
    ] = "product"
    notification_id: Annotated[
        str | None, describe("the notification's id (keepa.notifications) for a notification")
    ] = None
    signals: Annotated[
        MarketSignalsMessage | None,
        describe(
            "the product's quality signals on this market (docs/signals.md); a notification "
            "keeps the stored quote's with its new sell price's stability (null: unknown)"
        ),
    ] = None
    fx: Annotated[
        ObservationFx | None,
        describe("the EUR/GBP rate the detector evaluated this event with (null: not known)"),
    ] = None

    def __post_init__(self) -> None:
        if self.currency is not self.market.currency:
            raise ValueError(f"currency {self.currency} is not the currency of {self.market}")
        require_finite(self.referral_fee_rate, "referral_fee_rate")
        if (self.source == "notification") != (self.notification_id is not None):
            raise ValueError("notification_id goes with source notification, and only with it")

    @classmethod
    def from_quote(cls, quote: MarketQuote, fx: FxRates | None = None) -> Observation:
        """The message of a quote and the EUR/GBP rate it was evaluated with."""
        message = msgspec.convert(quote, cls, from_attributes=True)
        if fx is None:
            return message
        used = ObservationFx(eur_per_gbp=fx.eur_per_gbp, as_of=fx.as_of)
        return msgspec.structs.replace(message, fx=used)

    def to_quote(self) -> MarketQuote:
        """The domain quote (times in UTC)."""
        return msgspec.convert(self, MarketQuote, from_attributes=True)

    def fx_rates(self) -> FxRates | None:
        """The rate the event was evaluated with, ``None`` when the message has none."""
        if self.fx is None:
            return None
        return FxRates(eur_per_gbp=self.fx.eur_per_gbp, as_of=self.fx.as_of)


OBSERVATION: Final = Codec(Observation)
