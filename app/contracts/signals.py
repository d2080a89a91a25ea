"""The quality signals of a product on one market (:mod:`app.domain.signals`) as they travel
in ``arbitrage.observations`` (the quote's market) and ``arbitrage.opportunities`` (the
route's sell market). Field for field the domain's :class:`~app.domain.signals.MarketSignals`
(so a message converts to and from it), ``null`` = unknown, never zero; prices in the
market's minor units; the methods and Keepa's fields: docs/signals.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

from app.contracts.base import Message, describe
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.domain.signals import MarketSignals, SalesEstimateMethod

__all__ = [
    "CompetitionSignals",
    "DemandSignals",
    "MarketSignalsMessage",
    "RestrictionSignals",
    "StabilitySignals",
]


class StabilitySignals(Message, kw_only=True, frozen=True):
    """The sell price type's current value against its 30/90-day averages and range."""

    price_type: Annotated[
        PriceType | None,
        describe("Keepa price type of the sell price: 18 BUY_BOX_SHIPPING, 10 NEW_FBA"),
    ] = None
    current: Annotated[int | None, describe("current sell price, minor units")] = None
    avg30: Annotated[int | None, describe("Keepa stats.avg30 of the type, minor units")] = None
    avg90: Annotated[int | None, describe("Keepa stats.avg90 of the type, minor units")] = None
    low_90: Annotated[int | None, describe("lowest value in 90 days, minor units")] = None
    high_90: Annotated[int | None, describe("highest value in 90 days, minor units")] = None
    spike: Annotated[bool | None, describe("current > avg90 x (1 + spike share, default 0.20)")] = (
        None
    )


class DemandSignals(Message, kw_only=True, frozen=True):
    """How well the product sells on the market."""

    sales_rank: Annotated[int | None, describe("current sales rank")] = None
    rank_drops_30: Annotated[int | None, describe("Keepa stats.salesRankDrops30")] = None
    rank_drops_90: Annotated[int | None, describe("Keepa stats.salesRankDrops90")] = None
    monthly_sold: Annotated[int | None, describe("Keepa monthlySold (bought in past month)")] = None
    estimated_monthly_sales: Annotated[
        int | None, describe("estimated units sold a month (docs/signals.md)")
    ] = None
    estimate_method: Annotated[
        SalesEstimateMethod | None,
        describe("monthly_sold, sales_rank_drops_30 or sales_rank_drops_90"),
    ] = None


class CompetitionSignals(Message, kw_only=True, frozen=True):
    """Who else sells the product new on the market."""

    new_offer_count: Annotated[int | None, describe("new offers now (Keepa COUNT_NEW)")] = None
    amazon_sells: Annotated[bool | None, describe("Amazon itself has an offer")] = None
    amazon_buy_box_share: Annotated[
        Decimal | None, describe("share of the 90 days Amazon held the buy box, 0..1")
    ] = None


class RestrictionSignals(Message, kw_only=True, frozen=True):
    """Flags that can keep a seller from selling the product."""

    hazardous_material: Annotated[bool | None, describe("Keepa hazardousMaterials set")] = None
    hazardous_aspects: Annotated[
        list[str], describe("the aspect of each hazardous material entry")
    ] = msgspec.field(default_factory=list)
    adult_product: Annotated[bool | None, describe("Keepa isAdultProduct")] = None
    heat_sensitive: Annotated[bool | None, describe("Keepa isHeatSensitive")] = None


class MarketSignalsMessage(Message, kw_only=True, frozen=True):
    """The signals of one product on one market (:class:`app.domain.signals.MarketSignals`)."""

    market: Annotated[Market, describe("the market the signals describe")]
    stability: Annotated[StabilitySignals, describe("sell-price stability")]
    demand: Annotated[DemandSignals, describe("demand")]
    competition: Annotated[CompetitionSignals, describe("competition")]
    restrictions: Annotated[RestrictionSignals, describe("restrictions")]

    @classmethod
    def of(cls, signals: MarketSignals) -> MarketSignalsMessage:
        return msgspec.convert(signals, cls, from_attributes=True)

    def to_domain(self) -> MarketSignals:
        return msgspec.convert(self, MarketSignals, from_attributes=True)
