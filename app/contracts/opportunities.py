"""``arbitrage.opportunities``: one event per change of a route of an ASIN (the output).

Key: the ASIN. The detector builds an :class:`OpportunityMessage` from each
:class:`~app.domain.detection.OpportunityEvent` with :meth:`OpportunityMessage.from_event`;
the Elasticsearch sink and the alerts read it. All money is integer EUR cents, or the
market's minor unit where the field says ``minor``; rates and the display ROI/margin are
decimal strings (``"0.4131"``); the decisions were taken on the exact values.

Provenance: when the buy or the sell quote of the route came from a Keepa notification
(merged into the stored quote, :mod:`app.domain.notification_merge`), ``quote_sources`` says
where each came from (``source`` and the notification's id); when both came from Keepa
products, the field is absent (as in every message before notifications were merged).

Version 3 adds the quality signals of the sell market (``sell_signals``,
:mod:`app.contracts.signals`, as the sell quote held when the event was decided had them) and
what they make of the profit: ``expected_monthly_units`` and
``expected_monthly_profit_eur_cents`` (:func:`app.domain.signals.opportunity_signals`,
docs/signals.md). The fields are additive and optional: a version-2 message is read as it is,
without signals (unknown). Signals alone never make an ``updated`` event: an open route is
re-published when its profit moves (``MATERIAL_CHANGE_EUR_CENTS``), and the signals ride on
that next event (a seller filtering on them sees them as of the route's last event).

Version 2 carries the full breakdown of :func:`app.domain.fees.price_route` (every line, the
estimates, the failed thresholds, the fee category and the seller profile's version). Only
version 3 is written; version 1 (the former single pricing policy: referral, FBA, shipping),
still on the topic after an upgrade, is read and converted by :data:`OPPORTUNITY`
(:meth:`OpportunityMessageV1.upgrade`, :mod:`app.contracts.version1`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

import msgspec

from app.contracts.base import (
    Asin,
    Codec,
    ContractError,
    Message,
    UtcDatetime,
    Version1,
    describe,
)
from app.contracts.signals import MarketSignalsMessage
from app.contracts.version1 import UNKNOWN, CostsV1, route_breakdown_v1
from app.domain.detection import CloseReason, EventType, OpportunityEvent
from app.domain.fees import FeeLine, LineKind, RouteBreakdown, Threshold
from app.domain.markets import Market
from app.domain.money import Currency
from app.domain.quote import MarketQuote, QuoteSource
from app.domain.signals import opportunity_signals

__all__ = [
    "OPPORTUNITY",
    "Breakdown",
    "Line",
    "OpportunityCodec",
    "OpportunityMessage",
    "OpportunityMessageV1",
    "QuoteProvenance",
    "RouteQuoteSources",
]


class Line(Message, kw_only=True, frozen=True):
    """One line of the breakdown (:class:`app.domain.fees.FeeLine`)."""

    kind: Annotated[
        LineKind,
        describe(
            "sales_vat, purchase_vat, referral, closing_fee, digital_services_fee, fee_vat, "
            "fba, efn, mfn_shipping, storage, inbound_shipping, customs, import_duty, prep, "
            "fx_fee, returns_allowance (see docs/pricing.md)"
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


class QuoteProvenance(Message, kw_only=True, frozen=True):
    """Where one quote of a route came from."""

    source: Annotated[
        QuoteSource,
        describe("product (a keepa.products message) or notification (a Keepa notification)"),
    ]
    notification_id: Annotated[
        str | None, describe("for a notification: its id on keepa.notifications")
    ] = None

    @classmethod
    def of(cls, quote: MarketQuote) -> QuoteProvenance:
        return cls(source=quote.source, notification_id=quote.notification_id)


class RouteQuoteSources(Message, kw_only=True, frozen=True):
    """Where the buy and the sell quote of a route came from."""

    buy: Annotated[QuoteProvenance, describe("the buy market's quote")]
    sell: Annotated[QuoteProvenance, describe("the sell market's quote")]

    @classmethod
    def of(
        cls, buy_quote: MarketQuote | None, sell_quote: MarketQuote | None
    ) -> RouteQuoteSources | msgspec.UnsetType:
        """The sources of the quotes held for the route's markets; ``UNSET`` (the field is
        left out) when neither came from a notification."""
        quotes = (buy_quote, sell_quote)
        if not any(q is not None and q.source == "notification" for q in quotes):
            return msgspec.UNSET
        product = QuoteProvenance(source="product")
        buy, sell = (product if q is None else QuoteProvenance.of(q) for q in quotes)
        return cls(buy=buy, sell=sell)


def _check_route(m: OpportunityMessage | OpportunityMessageV1) -> None:
    if m.route != f"{m.buy_market.value}:{m.sell_market.value}":
        raise ValueError(f"route {m.route!r} is not {m.buy_market}:{m.sell_market}")
    if m.buy_market is m.sell_market:
        raise ValueError(f"buy and sell market are both {m.buy_market}")
    if (m.reason is None) == (m.event == "closed"):
        raise ValueError(f"reason {m.reason!r} does not go with a {m.event} event")


class OpportunityMessage(Message, kw_only=True, frozen=True):
    """``opened`` / ``updated`` / ``closed`` of one route (buy market -> sell market)."""

    schema_version: Annotated[
        Literal[2, 3],
        describe(
            "3 (with the sell market's signals); 2 is read without them, 1 converted "
            "(see docs/contract.md)"
        ),
    ] = 3
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
    quote_sources: Annotated[
        RouteQuoteSources | msgspec.UnsetType,
        describe(
            "where the buy and sell quotes held when the event was decided came from; only "
            "when one of them came from a Keepa notification (absent: both from products)"
        ),
    ] = msgspec.UNSET
    sell_signals: Annotated[
        MarketSignalsMessage | None,
        describe(
            "the sell market's quality signals (docs/signals.md) as its quote had them when "
            "the event was decided (null: unknown, e.g. a version-2 message)"
        ),
    ] = None
    expected_monthly_units: Annotated[
        Decimal | None,
        describe(
            "units a new seller can expect to sell a month on the sell market: estimated "
            "monthly sales / (new offers + 1), 2 places for display (null: unknown)"
        ),
    ] = None
    expected_monthly_profit_eur_cents: Annotated[
        int | None,
        describe(
            "profit_eur_cents x the exact expected monthly units, rounded half up once "
            "(null: sales or offer count unknown)"
        ),
    ] = None

    def __post_init__(self) -> None:
        _check_route(self)
        if self.sell_signals is not None and self.sell_signals.market is not self.sell_market:
            raise ValueError(f"sell_signals of {self.sell_signals.market}, not {self.sell_market}")

    @classmethod
    def from_event(
        cls,
        event: OpportunityEvent,
        sell_quote: MarketQuote | None = None,
        buy_quote: MarketQuote | None = None,
    ) -> OpportunityMessage:
        """The message of ``event``; the listing facts and the signals come from the sell
        market's quote, the provenance (:attr:`quote_sources`) from both quotes."""
        b = event.breakdown
        signals = None if sell_quote is None else sell_quote.signals
        judged = None if signals is None else opportunity_signals(signals, b.profit_eur_cents)
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
            quote_sources=RouteQuoteSources.of(buy_quote, sell_quote),
            sell_signals=None if signals is None else MarketSignalsMessage.of(signals),
            expected_monthly_units=None
            if judged is None
            else judged.expected_monthly_units_display,
            expected_monthly_profit_eur_cents=(
                None if judged is None else judged.expected_monthly_profit_eur_cents
            ),
        )


class OpportunityMessageV1(Message, kw_only=True, frozen=True):
    """A version-1 message (read only): the former single pricing policy's figures.
    :meth:`upgrade` converts it (see :mod:`app.contracts.version1`)."""

    schema_version: Version1 = 1
    event_id: str
    event: EventType
    reason: CloseReason | None = None
    asin: Asin
    title: str | None = None
    route: str
    buy_market: Market
    sell_market: Market
    buy_price_minor: int
    sell_price_minor: int
    buy_price_eur_cents: int
    sell_price_eur_cents: int
    breakdown: CostsV1
    profit_eur_cents: int
    roi: float
    margin: float
    fba_fee_estimated: bool
    fx_eur_per_gbp: float
    buy_observed_at: UtcDatetime
    sell_observed_at: UtcDatetime
    event_time: UtcDatetime
    first_seen: UtcDatetime
    sales_rank: int | None = None
    root_category: int | None = None
    image_url: str | None = None
    amazon_sells_in_target: bool | None = None

    def __post_init__(self) -> None:
        _check_route(self)

    def upgrade(self) -> OpportunityMessage:
        """The message as version 2: the figures as lines; category and profile version
        ``unknown``, no failed threshold named."""
        c = self.breakdown
        # Version 1's net buy was the gross price when purchase VAT was not recovered.
        vat_is_cost = c.vat_buy_eur_cents > 0 and c.net_buy_eur_cents == self.buy_price_eur_cents
        eur_per_gbp = Decimal(str(self.fx_eur_per_gbp))
        b = route_breakdown_v1(
            asin=self.asin,
            title=self.title,
            buy_market=self.buy_market,
            sell_market=self.sell_market,
            buy_price_minor=self.buy_price_minor,
            sell_price_minor=self.sell_price_minor,
            buy_price_eur_cents=self.buy_price_eur_cents,
            sell_price_eur_cents=self.sell_price_eur_cents,
            costs=c,
            profit_eur_cents=self.profit_eur_cents,
            purchase_vat_is_cost=vat_is_cost,
            fba_fee_estimated=self.fba_fee_estimated,
            eur_per_gbp=eur_per_gbp,
            buy_observed_at=self.buy_observed_at,
            sell_observed_at=self.sell_observed_at,
        )
        return OpportunityMessage(
            event_id=self.event_id,
            event=self.event,
            reason=self.reason,
            asin=self.asin,
            title=self.title,
            route=self.route,
            buy_market=self.buy_market,
            sell_market=self.sell_market,
            buy_url=self.buy_market.product_url(self.asin),
            sell_url=self.sell_market.product_url(self.asin),
            buy_currency=self.buy_market.currency,
            sell_currency=self.sell_market.currency,
            buy_price_minor=self.buy_price_minor,
            sell_price_minor=self.sell_price_minor,
            buy_price_eur_cents=self.buy_price_eur_cents,
            sell_price_eur_cents=self.sell_price_eur_cents,
            breakdown=Breakdown.of(b),
            profit_eur_cents=self.profit_eur_cents,
            roi=Decimal(str(self.roi)),
            margin=Decimal(str(self.margin)),
            category=UNKNOWN,
            estimates=list(b.estimates),
            failed_thresholds=[],
            profile_version=UNKNOWN,
            fx_eur_per_gbp=eur_per_gbp,
            buy_observed_at=self.buy_observed_at,
            sell_observed_at=self.sell_observed_at,
            event_time=self.event_time,
            first_seen=self.first_seen,
            sales_rank=self.sales_rank,
            root_category=self.root_category,
            image_url=self.image_url,
            amazon_sells_in_target=self.amazon_sells_in_target,
        )


class _Versioned(msgspec.Struct):
    schema_version: Any = 1


_VERSION: Final = msgspec.json.Decoder(_Versioned)
_V1: Final = Codec(OpportunityMessageV1)


def _version(data: Any) -> Any:
    """The message's ``schema_version`` (1 when absent), None when it cannot be told."""
    if isinstance(data, Mapping):
        return data.get("schema_version", 1)
    try:
        return _VERSION.decode(data).schema_version
    except (msgspec.DecodeError, TypeError):
        return None


@dataclass(frozen=True)
class OpportunityCodec(Codec[OpportunityMessage]):
    """Writes version 3; reads versions 3 and 2 (without signals), and version 1 converted
    (:meth:`OpportunityMessageV1.upgrade`). A version-1 message that breaks version 1's
    contract is refused with version 1's reason."""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "versions", (1, 2, 3))

    def decode(self, data: bytes | None) -> OpportunityMessage:
        try:
            return super().decode(data)
        except ContractError as exc:
            if exc.code in ("malformed_json", "not_an_object") or _version(data) != 1:
                raise
        return _V1.decode(data).upgrade()

    def convert(self, data: Any) -> OpportunityMessage:
        try:
            return super().convert(data)
        except ContractError as exc:
            if exc.code == "not_an_object" or _version(data) != 1:
                raise
        return _V1.convert(data).upgrade()


OPPORTUNITY: Final = OpportunityCodec(OpportunityMessage)
