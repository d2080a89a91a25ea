"""``arbitrage.opportunities``: one event per change of a route of an ASIN (the output).

Key: the ASIN. The detector builds an :class:`OpportunityMessage` from each
:class:`~app.domain.detection.OpportunityEvent` with :meth:`OpportunityMessage.from_event`;
the Elasticsearch sink and the alerts read it. All money is integer EUR cents, or the
market's minor unit where the field says ``minor``; ratios are JSON numbers.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from app.contracts.base import Asin, Codec, Message, UtcDatetime, Version1, describe
from app.domain.detection import CloseReason, EventType, OpportunityEvent
from app.domain.markets import Market
from app.domain.money import Currency
from app.domain.quote import MarketQuote

__all__ = ["OPPORTUNITY", "Breakdown", "OpportunityMessage"]


class Breakdown(Message, kw_only=True, frozen=True):
    """The components of the profit, EUR cents."""

    net_sell_eur_cents: Annotated[int, describe("sell price without its VAT")]
    vat_sell_eur_cents: Annotated[int, describe("VAT contained in the sell price")]
    referral_fee_eur_cents: Annotated[int, describe("Amazon referral fee")]
    fba_fee_eur_cents: Annotated[int, describe("FBA fulfilment fee")]
    shipping_eur_cents: Annotated[int, describe("inbound shipping (+ GB customs)")]
    net_buy_eur_cents: Annotated[int, describe("buy price (net of VAT when it is recovered)")]
    vat_buy_eur_cents: Annotated[int, describe("VAT contained in the buy price")]


class OpportunityMessage(Message, kw_only=True, frozen=True):
    """``opened`` / ``updated`` / ``closed`` of one route (buy market -> sell market)."""

    schema_version: Annotated[Version1, describe("1")] = 1
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
    breakdown: Annotated[Breakdown, describe("the components of the profit")]
    profit_eur_cents: Annotated[
        int, describe("net sell - referral fee - FBA fee - shipping - net buy")
    ]
    roi: Annotated[float, describe("profit / (net buy + shipping), 4 decimals")]
    margin: Annotated[float, describe("profit / net sell, 4 decimals")]
    referral_fee_rate: Annotated[float, describe("referral fee rate used")]
    fba_fee_estimated: Annotated[bool, describe("the FBA fee is a size-tier estimate")]
    fx_eur_per_gbp: Annotated[float, describe("EUR per GBP used")]
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
        return cls(
            event_id=event.event_id,
            event=event.event,
            reason=event.reason,
            asin=event.asin,
            title=event.title,
            route=event.route_key,
            buy_market=event.buy_market,
            sell_market=event.sell_market,
            buy_url=event.buy_market.product_url(event.asin),
            sell_url=event.sell_market.product_url(event.asin),
            buy_currency=event.buy_market.currency,
            sell_currency=event.sell_market.currency,
            buy_price_minor=event.buy_price_minor,
            sell_price_minor=event.sell_price_minor,
            buy_price_eur_cents=event.buy_price_eur_cents,
            sell_price_eur_cents=event.sell_price_eur_cents,
            breakdown=msgspec.convert(event.breakdown, Breakdown, from_attributes=True),
            profit_eur_cents=event.profit_eur_cents,
            roi=float(event.roi),
            margin=float(event.margin),
            referral_fee_rate=float(event.referral_fee_rate),
            fba_fee_estimated=event.fba_fee_estimated,
            fx_eur_per_gbp=float(event.fx_eur_per_gbp),
            buy_observed_at=event.buy_observed_at,
            sell_observed_at=event.sell_observed_at,
            event_time=event.event_time,
            first_seen=event.first_seen,
            sales_rank=None if sell_quote is None else sell_quote.sales_rank,
            root_category=None if sell_quote is None else sell_quote.root_category,
            image_url=None if sell_quote is None else sell_quote.image_url,
            amazon_sells_in_target=None if sell_quote is None else sell_quote.amazon_in_stock,
        )


OPPORTUNITY: Final = Codec(OpportunityMessage)
