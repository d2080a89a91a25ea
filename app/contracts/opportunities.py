"""``arbitrage.opportunities``: one event per change of a route of an ASIN (the output).

Key: the ASIN. The detector builds an :class:`OpportunityMessage` from each
:class:`~app.domain.detection.OpportunityEvent` with :meth:`OpportunityMessage.from_event`;
the Elasticsearch sink and the alerts read it. All money is integer EUR cents, or the
market's minor unit where the field says ``minor``; rates and the display ROI/margin are
decimal strings (``"0.4131"``); the decisions were taken on the exact values.

Version 2 carries the full breakdown of :func:`app.domain.fees.price_route` (every line, the
estimates, the failed thresholds, the fee category and the seller profile's version); version
1 (the single global pricing policy: referral, FBA, shipping) is no longer read.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Final, Literal

import msgspec

from app.contracts.base import Asin, Codec, Message, UtcDatetime, describe
from app.domain.detection import CloseReason, EventType, OpportunityEvent
from app.domain.fees import FeeLine, LineKind, RouteBreakdown, Threshold
from app.domain.markets import Market
from app.domain.money import Currency
from app.domain.quote import MarketQuote

__all__ = ["OPPORTUNITY", "Breakdown", "Line", "OpportunityMessage"]


class Line(Message, kw_only=True, frozen=True):
    """One line of the breakdown (:class:`app.domain.fees.FeeLine`)."""

    kind: Annotated[
        LineKind,
        describe(
            "sales_vat, purchase_vat, referral, closing_fee, digital_services_fee, fee_vat, "
            "fba, efn, mfn_shipping, inbound_shipping, customs, import_duty, prep, fx_fee, "
            "returns_allowance (see docs/pricing.md)"
        ),
    ]
    amount_minor: Annotated[int, describe("in the charging currency's minor unit, rounded there")]
    currency: Annotated[Currency, describe("the currency of amount_minor")]
    eur_cents: Annotated[int, describe("amount_minor converted once to EUR cents")]
    is_cost: Annotated[
        bool, describe("deducted from the profit; false: shown only (VAT recovered or in price)")
    ]
    note: Annotated[str, describe("how it was computed (rate, base, source)")] = ""

    @classmethod
    def of(cls, line: FeeLine) -> Line:
        return cls(
            kind=line.kind,
            amount_minor=line.amount_minor,
            currency=line.currency,
            eur_cents=line.eur_cents,
            is_cost=line.is_cost,
            note=line.note,
        )


class Breakdown(Message, kw_only=True, frozen=True):
    """The profit computation: ``profit = net_sell - sum(cost lines) - net_buy``, EUR cents."""

    fees_on: Annotated[date, describe("the date whose fee schedule figures were applied")]
    net_sell_eur_cents: Annotated[int, describe("sell price without its VAT")]
    net_buy_eur_cents: Annotated[int, describe("buy price without its VAT")]
    sell_vat_rate: Annotated[Decimal, describe("VAT rate of the sale (category's rate)")]
    buy_vat_rate: Annotated[Decimal, describe("VAT rate of the purchase (category's rate)")]
    total_costs_eur_cents: Annotated[int, describe("sum of the cost lines")]
    investment_eur_cents: Annotated[
        int, describe("net buy + purchase VAT if a cost + inbound, customs, duty, prep")
    ]
    lines: Annotated[list[Line], describe("every line, costs and VAT shown only")]

    @classmethod
    def of(cls, b: RouteBreakdown) -> Breakdown:
        return cls(
            fees_on=b.on,
            net_sell_eur_cents=b.net_sell_eur_cents,
            net_buy_eur_cents=b.net_buy_eur_cents,
            sell_vat_rate=b.sell_vat_rate,
            buy_vat_rate=b.buy_vat_rate,
            total_costs_eur_cents=b.total_costs_eur_cents,
            investment_eur_cents=b.investment_eur_cents,
            lines=[Line.of(line) for line in b.lines],
        )


class OpportunityMessage(Message, kw_only=True, frozen=True):
    """``opened`` / ``updated`` / ``closed`` of one route (buy market -> sell market)."""

    schema_version: Annotated[Literal[2], describe("2 (version 1 is no longer read)")] = 2
    event_id: Annotated[str, describe("SHA-1 of ASIN, route, event, event time (dedupe key)")]
    event: Annotated[
        EventType,
        describe(
            "opened (became an opportunity), updated (profit moved by at least "
            "MATERIAL_CHANGE_EUR_CENTS), closed (no longer one)"
        ),
    ]
    reason: Annotated[
        CloseReason | None, describe("for closed: below_threshold, stale_quote or no_price")
    ] = None
    asin: Asin
    title: Annotated[str | None, describe("product title")] = None
    route: Annotated[str, describe("BUY:SELL, e.g. DE:FR")]
    buy_market: Annotated[Market, describe("where to buy")]
    sell_market: Annotated[Market, describe("where to sell")]
    buy_url: Annotated[str, describe("the product on the buy marketplace")]
    sell_url: Annotated[str, describe("the product on the sell marketplace")]
    buy_currency: Annotated[Currency, describe("currency of the buy market")]
    sell_currency: Annotated[Currency, describe("currency of the sell market")]
    buy_price_minor: Annotated[int, describe("gross buy price, buy market's minor units")]
    sell_price_minor: Annotated[int, describe("gross sell price, sell market's minor units")]
    buy_price_eur_cents: Annotated[int, describe("gross buy price in EUR cents")]
    sell_price_eur_cents: Annotated[int, describe("gross sell price in EUR cents")]
    breakdown: Annotated[Breakdown, describe("the profit computation, line by line")]
    profit_eur_cents: Annotated[int, describe("net sell - the cost lines - net buy")]
    roi: Annotated[
        Decimal, describe("profit / investment, 4 places for display (decided on the exact value)")
    ]
    margin: Annotated[Decimal, describe("profit / net sell, 4 places for display")]
    category: Annotated[str, describe("fee category (default when unmapped or unknown)")]
    estimates: Annotated[
        list[str], describe("what was estimated or unverified (empty: every figure known)")
    ] = msgspec.field(default_factory=list)
    failed_thresholds: Annotated[
        list[Threshold],
        describe("min_profit, min_roi, max_sales_rank: why it is not (or no longer) one"),
    ] = msgspec.field(default_factory=list)
    profile_version: Annotated[str, describe("version of the seller profile priced with")]
    fx_eur_per_gbp: Annotated[Decimal, describe("EUR per GBP used")]
    buy_observed_at: Annotated[UtcDatetime, describe("event time of the buy quote")]
    sell_observed_at: Annotated[UtcDatetime, describe("event time of the sell quote")]
    event_time: Annotated[UtcDatetime, describe("event time of this event")]
    first_seen: Annotated[UtcDatetime, describe("when the route (last) opened")]
    sales_rank: Annotated[int | None, describe("sales rank on the sell market")] = None
    root_category: Annotated[int | None, describe("Keepa root category (sell market)")] = None
    image_url: Annotated[str | None, describe("product image (sell market)")] = None
    amazon_sells_in_target: Annotated[
        bool | None, describe("Amazon itself has a current offer on the sell market")
    ] = None

    def __post_init__(self) -> None:
        if self.route != f"{self.buy_market.value}:{self.sell_market.value}":
            raise ValueError(f"route {self.route!r} is not {self.buy_market}:{self.sell_market}")
        if self.buy_market is self.sell_market:
            raise ValueError(f"buy and sell market are both {self.buy_market}")
        if (self.reason is None) == (self.event == "closed"):
            raise ValueError(f"reason {self.reason!r} does not go with a {self.event} event")

    @classmethod
    def from_event(
        cls, event: OpportunityEvent, sell_quote: MarketQuote | None = None
    ) -> OpportunityMessage:
        """The message of ``event``; the listing facts come from the sell market's quote."""
        b = event.breakdown
        return cls(
            event_id=event.event_id,
            event=event.event,
            reason=event.reason,
            asin=event.asin,
            title=b.title,
            route=event.route_key,
            buy_market=event.buy_market,
            sell_market=event.sell_market,
            buy_url=event.buy_market.product_url(event.asin),
            sell_url=event.sell_market.product_url(event.asin),
            buy_currency=event.buy_market.currency,
            sell_currency=event.sell_market.currency,
            buy_price_minor=b.buy_price_minor,
            sell_price_minor=b.sell_price_minor,
            buy_price_eur_cents=b.buy_price_eur_cents,
            sell_price_eur_cents=b.sell_price_eur_cents,
            breakdown=Breakdown.of(b),
            profit_eur_cents=b.profit_eur_cents,
            roi=b.roi_display,
            margin=b.margin_display,
            category=b.category,
            estimates=list(b.estimates),
            failed_thresholds=list(b.failed_thresholds),
            profile_version=event.profile_version,
            fx_eur_per_gbp=b.eur_per_gbp,
            buy_observed_at=b.buy_observed_at,
            sell_observed_at=b.sell_observed_at,
            event_time=event.event_time,
            first_seen=event.first_seen,
            sales_rank=None if sell_quote is None else sell_quote.sales_rank,
            root_category=None if sell_quote is None else sell_quote.root_category,
            image_url=None if sell_quote is None else sell_quote.image_url,
            amazon_sells_in_target=None if sell_quote is None else sell_quote.amazon_in_stock,
        )


OPPORTUNITY: Final = Codec(OpportunityMessage)
