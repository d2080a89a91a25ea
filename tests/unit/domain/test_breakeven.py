"""Break-even prices (app.domain.breakeven): hand-computed cases in EUR and with GBP/EUR, the
cases without a bound, and properties against the detector's own entry point
(app.domain.asin_state.apply_quote): the bound opens a route, the other side of it opens
nothing, the profitable side opens routes as far as the result says.

Unless said otherwise: default profile (established in DE, VAT-registered everywhere, Amazon
and third-party purchase VAT recovered, inbound 450 + 12 per started 100 g, GB customs 500,
one storage month, thresholds profit >= 500 and ROI >= 15 %), EUR/GBP 1.17, quotes observed
2025-03-01 12:00 UTC and prices seen 5 minutes later; 500 g, 200 x 150 x 50 mm; the sell
quotes carry Keepa's FBA fee and a 15 % referral rate. Lines that do not depend on the price:
FR/DE: FBA 300, Digital Services Fee of a DE-established seller on FR/GB from 2024-10-01 to
2026-03-19: 2 % of the referral + 2 % of FBA (300 -> 6, 250 p -> 5 p), storage one month in
March (January-September) 0.0015 m3 x 2865 c/m3 = 4.30 -> 4 (FR), 0.052972 ft3 x 71 p/ft3 =
3.76 -> 4 p = 4.68 -> 5 c (GB); inbound 450 + 5 x 12 = 510; net buy of Amazon's DE offer at
20.00: 2000 / 1.19 = 1680.67 -> 1681.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.asin_state import apply_quote
from app.domain.breakeven import (
    COST_SLACK_EUR_CENTS,
    MIN_PRICE_MINOR,
    TRACKING_PRICE_TYPES,
    Breakeven,
    PriceBound,
    Side,
    TrackingPriceTypes,
    TrackingThreshold,
    breakevens,
    hypothetical_quote,
    market_breakeven,
    tracking_thresholds,
)
from app.domain.detection import Pricing
from app.domain.envelope import (
    BUY_PRICE_FALLBACK,
    BUY_PRICE_TYPES,
    SELL_PRICE_TYPES,
    quote_prices,
)
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fees import price_route
from app.domain.fx import FxRates
from app.domain.keepa_prices import MAX_PRICE_MINOR, PriceType
from app.domain.markets import ALL_ROUTES, Market, Route
from app.domain.money import Currency, Money
from app.domain.policy import DetectionPolicy
from app.domain.profile import (
    DEFAULT_PROFILE,
    InboundShipping,
    SellerProfile,
    SellFulfilment,
    Thresholds,
)
from app.domain.quote import MarketQuote
from app.settings import Settings
from tests.keepa_factory import make_quote
from tests.unit.domain.test_fee_properties import fx_rates, profiles

SCHEDULE = default_fee_schedule()
POLICY = DetectionPolicy()
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
AT = T0 + timedelta(minutes=5)
FX = FxRates(Decimal("1.17"), T0)
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-default", SCHEDULE)
ASIN = "B0BREAKEV1"
BEAUTY_DE = 64187031  # Keepa root of amazon.de's "Drogerie & Koerperpflege": 8 % <= 10.00 < 15 %


def de_amazon(price: int = 2000, **kwargs: Any) -> MarketQuote:
    return make_quote(ASIN, Market.DE, amazon=price, last_update=T0, **kwargs)


def sell_quote(market: Market, price: int, fba_fee: int, **kwargs: Any) -> MarketQuote:
    return make_quote(
        ASIN,
        market,
        buy_box=price,
        fba_fee=fba_fee,
        referral_pct=15.0,
        last_update=T0,
        **kwargs,
    )


def by_market(*quotes: MarketQuote) -> dict[Market, MarketQuote]:
    return {q.market: q for q in quotes}


def eur(amount: int) -> Money:
    return Money(amount, Currency.EUR)


def gbp(amount: int) -> Money:
    return Money(amount, Currency.GBP)


def opened(
    quotes: dict[Market, MarketQuote],
    market: Market,
    side: Side,
    price: int,
    pricing: Pricing = PRICING,
    *,
    at: datetime = AT,
    amazon_offer: bool = False,
) -> set[str]:
    """The routes buying (``side="buy"``) or selling in ``market`` that the detector opens
    when ``market``'s quote carries ``price``: apply_quote on an ASIN with no open route."""
    quote = hypothetical_quote(quotes[market], side, price, at, amazon_offer=amazon_offer)
    step = apply_quote(quote, quotes, {}, POLICY, pricing)
    assert step.accepted
    return {
        e.route_key
        for e in step.events
        if e.event == "opened" and (e.buy_market if side == "buy" else e.sell_market) is market
    }


# --- hand-computed ---------------------------------------------------------------------------


def test_sell_breakeven_in_eur() -> None:
    # DE Amazon 20.00 -> FR buy box P. The investment 1681 + 510 + 4 = 2195 needs a profit of
    # 15 % x 2195 = 329.25: the EUR 5.00 minimum binds. profit(P) = round(P / 1.2) -
    # round(0.15 P) - 300 - (round(0.02 x referral) + 6) - 4 - 510 - 1681:
    #   P = 4411: 3675.83 -> 3676; referral 661.65 -> 662; DSF 13.24 -> 13 + 6 = 19:
    #             3676 - 662 - 300 - 19 - 4 - 510 - 1681 = 500: opens;
    #   P = 4410: 3675.00 -> 3675; referral 661.5 -> 662; DSF 19: 499: does not.
    quotes = by_market(de_amazon(), sell_quote(Market.FR, 5000, 300))
    result = breakevens(quotes, POLICY, PRICING, AT)
    fr = result[Market.FR]
    assert fr.sell_min == PriceBound(eur(4411), ("DE:FR",), eur(4411))
    assert fr.sell_min.contiguous
    assert opened(quotes, Market.FR, "sell", 4411) == {"DE:FR"}
    assert opened(quotes, Market.FR, "sell", 4410) == set()
    # FR has no buy price to sell from DE against (DE has no sell price): nothing to buy in FR.
    assert fr.buy_max is None
    assert fr.amazon_buy_max is None
    assert result[Market.DE].sell_min is None
    assert fr.fresh_until == T0 + POLICY.stale_after  # the DE quote's observed_at + 24 h


def test_buy_breakeven_in_eur() -> None:
    # DE price X -> FR buy box 50.00: net sell 5000 / 1.2 = 4166.67 -> 4167; referral 750; DSF
    # 2 % x 750 = 15 + 6 = 21. profit = 4167 - 750 - 300 - 21 - 4 - 510 - round(X / 1.19) =
    # 2582 - round(X / 1.19). Profit >= 500: round(X / 1.19) <= 2082; ROI: 2582 - n >= 0.15 x
    # (n + 514) <=> n <= 2178.2, looser. X = 2478: 2082.35 -> 2082 (profit 500, opens);
    # X = 2479: 2083.19 -> 2083 (499). VAT recovered either way: Amazon or a third party alike.
    quotes = by_market(de_amazon(), sell_quote(Market.FR, 5000, 300))
    de = breakevens(quotes, POLICY, PRICING, AT)[Market.DE]
    assert de.buy_max == PriceBound(eur(2478), ("DE:FR",), eur(2478))
    assert de.amazon_buy_max == de.buy_max
    assert opened(quotes, Market.DE, "buy", 2478) == {"DE:FR"}
    assert opened(quotes, Market.DE, "buy", 2479) == set()


def test_buy_breakeven_in_gbp() -> None:
    # GB price X pence -> FR buy box 50.00: as above plus GB customs 500, so profit = 4167 -
    # 750 - 300 - 21 - 4 - 510 - 500 - net buy = 2082 - round(1.17 x round(X / 1.2)).
    # Profit >= 500: net buy <= 1582 c <=> round(X / 1.2) <= 1352 p (1352 x 1.17 = 1581.84 ->
    # 1582; 1353 x 1.17 = 1583.01 -> 1583) <=> X <= 1622 (1622 / 1.2 = 1351.67 -> 1352;
    # 1623 / 1.2 = 1352.5 -> 1353, half up).
    gb = make_quote(ASIN, Market.GB, amazon=1500, last_update=T0)
    quotes = by_market(gb, sell_quote(Market.FR, 5000, 300))
    result = breakevens(quotes, POLICY, PRICING, AT)[Market.GB]
    assert result.buy_max == PriceBound(gbp(1622), ("GB:FR",), gbp(1622))
    assert result.currency is Currency.GBP
    assert opened(quotes, Market.GB, "buy", 1622) == {"GB:FR"}
    assert opened(quotes, Market.GB, "buy", 1623) == set()


def test_sell_breakeven_in_gbp_with_a_rounding_gap() -> None:
    # DE Amazon 20.00 -> GB buy box P pence, FBA 250 p. Every GBP line is converted alone,
    # x 1.17 half up: FBA 250 -> 292.5 -> 293; storage 4 p -> 5; DSF 2 % x referral + 5 p.
    # profit = N - referral - 293 - 5 - DSF - 510 - 500 (customs) - 1681:
    #   P = 4388: net 3656.67 -> 3657 p -> 4278.69 -> 4279; referral 658.2 -> 658 p -> 770;
    #             DSF 13.16 -> 13 + 5 = 18 p -> 21: 4279 - 770 - 293 - 5 - 21 - 2691 = 499;
    #   P = 4389: net 3657.5 -> 3658 p -> 4280; referral 658.35 -> 658 p -> 770: 500, opens;
    #   P = 4390: net 3658.33 -> 3658 p -> 4280; referral 658.5 -> 659 p -> 771: 499;
    #   P = 4391: net 3659.17 -> 3659 p -> 4281; referral 658.65 -> 659 p -> 771: 500.
    # The lowest sell price is 4389, but 4390 opens nothing: every price from 4391 does.
    quotes = by_market(de_amazon(), sell_quote(Market.GB, 4000, 250))
    result = breakevens(quotes, POLICY, PRICING, AT)[Market.GB]
    assert result.sell_min == PriceBound(gbp(4389), ("DE:GB",), gbp(4391))
    assert not result.sell_min.contiguous
    assert [bool(opened(quotes, Market.GB, "sell", p)) for p in range(4388, 4393)] == [
        False,
        True,
        False,
        True,
        True,
    ]


def test_a_referral_tier_leaves_a_gap_above_the_lowest_sell_price() -> None:
    # A cheap beauty product (DE root 64187031; FR's root is not mapped, so the buy side's
    # decides): referral 8 % of the whole price up to 10.00, 15 % above (minimum 0.30). A
    # seller with no inbound cost, no storage, thresholds EUR 0.10 and ROI 0; FBA fee 0 (no
    # line). Net buy 860 / 1.19 = 722.69 -> 723. profit = round(P / 1.2) - referral - DSF
    # (2 % of the referral) - 723:
    #   P =  974: 811.67 -> 812; 77.92 -> 78; 1.56 -> 2: 812 - 78 - 2 - 723 = 9;
    #   P =  975: 812.5 -> 813; 78; 2: 10, opens;
    #   P = 1000: 833.33 -> 833; 80; 1.6 -> 2: 28;
    #   P = 1001: 834.17 -> 834; 15 % x 1001 = 150.15 -> 150; 3: -42;
    #   P = 1075: 895.83 -> 896; 161.25 -> 161; 3.22 -> 3: 9;
    #   P = 1076: 896.67 -> 897; 161.4 -> 161; 3: 10, opens (and every price above).
    profile = replace(
        DEFAULT_PROFILE,
        inbound_shipping=InboundShipping(per_unit_eur_cents=0, per_step_eur_cents=0),
        storage_months=0,
        thresholds=Thresholds(min_profit_eur_cents=10, min_roi=Decimal(0)),
    )
    pricing = replace(PRICING, profile=profile)
    de = de_amazon(860, root_category=BEAUTY_DE)
    fr = replace(sell_quote(Market.FR, 900, 300, root_category=BEAUTY_DE), fba_fee=0)
    fr = replace(fr, referral_fee_rate=None)  # the schedule's tiers, not Keepa's rate
    quotes = by_market(de, fr)
    result = breakevens(quotes, POLICY, pricing, AT)[Market.FR]
    assert result.sell_min == PriceBound(eur(975), ("DE:FR",), eur(1076))
    checks = {p: bool(opened(quotes, Market.FR, "sell", p, pricing)) for p in (974, 975, 1000)}
    checks |= {p: bool(opened(quotes, Market.FR, "sell", p, pricing)) for p in (1001, 1075, 1076)}
    assert checks == {974: False, 975: True, 1000: True, 1001: False, 1075: False, 1076: True}


def test_a_third_party_offer_without_a_vat_invoice_has_a_lower_buy_breakeven() -> None:
    # As test_buy_breakeven_in_eur with third_party_vat_invoice = False: Amazon's offer still
    # comes with an invoice (X <= 2478); a third party's purchase VAT X - round(X / 1.19) is
    # a cost, so profit = 2582 - X: profit >= 500 <=> X <= 2082 (ROI: 2582 - X >= 0.15 x
    # (X + 514) <=> X <= 2178.2, looser).
    pricing = replace(PRICING, profile=replace(DEFAULT_PROFILE, third_party_vat_invoice=False))
    quotes = by_market(de_amazon(), sell_quote(Market.FR, 5000, 300))
    de = breakevens(quotes, POLICY, pricing, AT)[Market.DE]
    assert de.buy_max == PriceBound(eur(2082), ("DE:FR",), eur(2082))
    assert de.amazon_buy_max == PriceBound(eur(2478), ("DE:FR",), eur(2478))
    assert opened(quotes, Market.DE, "buy", 2082, pricing) == {"DE:FR"}
    assert opened(quotes, Market.DE, "buy", 2083, pricing) == set()
    assert opened(quotes, Market.DE, "buy", 2478, pricing, amazon_offer=True) == {"DE:FR"}
    assert opened(quotes, Market.DE, "buy", 2479, pricing, amazon_offer=True) == set()


def test_the_best_route_decides() -> None:
    # Buying in DE for FR (50.00) or IT (50.00, 22 % VAT: net sell 5000 / 1.22 = 4098.36 ->
    # 4098, less than FR's 4167): FR's bound (2478) is the higher, only DE:FR opens there.
    quotes = by_market(
        de_amazon(), sell_quote(Market.FR, 5000, 300), sell_quote(Market.IT, 5000, 300)
    )
    de = breakevens(quotes, POLICY, PRICING, AT)[Market.DE]
    assert de.buy_max == PriceBound(eur(2478), ("DE:FR",), eur(2478))
    assert opened(quotes, Market.DE, "buy", 2478) == {"DE:FR"}
    assert "DE:IT" in opened(quotes, Market.DE, "buy", 2000)


# --- no bound --------------------------------------------------------------------------------


def test_no_counterpart_no_bound() -> None:
    result = breakevens(by_market(de_amazon()), POLICY, PRICING, AT)
    assert result == {
        Market.DE: Breakeven(ASIN, Market.DE, None, None, None, fresh_until=None),
    }
    assert breakevens({}, POLICY, PRICING, AT) == {}


def test_a_stale_counterpart_is_no_counterpart() -> None:
    # The DE quote is 20 h older than FR's: the bound holds until DE is 24 h old, T0 + 4 h.
    de = make_quote(ASIN, Market.DE, amazon=2000, last_update=T0 - timedelta(hours=20))
    quotes = by_market(de, sell_quote(Market.FR, 5000, 300))
    fr = breakevens(quotes, POLICY, PRICING, AT)[Market.FR]
    assert fr.sell_min is not None
    assert fr.fresh_until == T0 + timedelta(hours=4)
    # A price seen at T0 + 5 h: DE is 25 h older, stale, so no route and no bound.
    late = T0 + timedelta(hours=5)
    fr_late = breakevens(quotes, POLICY, PRICING, late)[Market.FR]
    assert fr_late.sell_min is None
    assert fr_late.fresh_until is None
    assert opened(quotes, Market.FR, "sell", 100_000, at=late) == set()


def test_a_sales_rank_no_price_changes_means_no_bound() -> None:
    profile = replace(DEFAULT_PROFILE, thresholds=replace(Thresholds(), max_sales_rank=1000))
    pricing = replace(PRICING, profile=profile)
    quotes = by_market(de_amazon(), sell_quote(Market.FR, 5000, 300))  # FR rank 1234
    result = breakevens(quotes, POLICY, pricing, AT)
    assert result[Market.FR].sell_min is None
    assert result[Market.DE].buy_max is None
    assert opened(quotes, Market.FR, "sell", 1_000_000, pricing) == set()


def test_a_route_the_schedule_cannot_price_has_no_bound() -> None:
    # Orders in GB fulfilled by EFN from DE: the schedule has no EFN fee across the UK-EU
    # border, so DE:GB is unpriced at every price.
    fulfilment = {**DEFAULT_PROFILE.fulfilment, Market.GB: SellFulfilment("efn")}
    pricing = replace(PRICING, profile=replace(DEFAULT_PROFILE, fulfilment=fulfilment))
    quotes = by_market(de_amazon(), sell_quote(Market.GB, 5000, 250))
    gb = breakevens(quotes, POLICY, pricing, AT)[Market.GB]
    assert gb.sell_min is None
    assert set(gb.unpriced) == {"DE:GB"}
    assert gb.unpriced["DE:GB"].startswith("no EFN fee in the schedule from DE to GB")


def test_a_sell_price_too_low_for_any_buy_price() -> None:
    # FR at 5.00: net sell 417 cannot pay FBA 300 + storage + inbound 510 even at a buy price
    # of 0.01.
    quotes = by_market(de_amazon(), sell_quote(Market.FR, 500, 300))
    de = breakevens(quotes, POLICY, PRICING, AT)[Market.DE]
    assert de.buy_max is None
    assert de.amazon_buy_max is None
    assert opened(quotes, Market.DE, "buy", MIN_PRICE_MINOR) == set()


# --- inputs and the search's guard -----------------------------------------------------------


def test_quotes_of_several_asins_or_misfiled_are_refused() -> None:
    other = make_quote("B0OTHER001", Market.FR, buy_box=5000, last_update=T0)
    with pytest.raises(ValueError, match="different ASINs"):
        breakevens(by_market(de_amazon(), other), POLICY, PRICING, AT)
    with pytest.raises(ValueError, match="filed under"):
        breakevens({Market.FR: de_amazon()}, POLICY, PRICING, AT)
    with pytest.raises(ValueError, match="max_probes"):
        breakevens(by_market(de_amazon()), POLICY, PRICING, AT, max_probes=0)


def test_a_search_out_of_evaluations_leaves_its_route_out() -> None:
    quotes = by_market(de_amazon(), sell_quote(Market.FR, 5000, 300))
    result = market_breakeven(Market.FR, quotes, POLICY, PRICING, AT, max_probes=3)
    assert result.sell_min is None
    assert result.undetermined == ("DE:FR",)


def test_hypothetical_quote_replaces_one_price_and_says_who_sells() -> None:
    de = de_amazon()
    third = hypothetical_quote(de, "buy", 1500, AT)
    assert (third.buy_price, third.sell_price) == (1500, de.sell_price)
    assert "AMAZON" not in third.prices
    assert third.observed_at == third.fetched_at == AT
    amazon = hypothetical_quote(de, "buy", 1500, AT, amazon_offer=True)
    assert amazon.prices["AMAZON"] == 1500
    assert {k: v for k, v in amazon.prices.items() if k != "AMAZON"} == third.prices
    sell = hypothetical_quote(de, "sell", 4000, AT)
    assert (sell.buy_price, sell.sell_price, sell.prices) == (2000, 4000, de.prices)
    # A time before the quote's own observation: the quote's (apply_quote keeps the newest).
    assert hypothetical_quote(de, "sell", 1, T0 - timedelta(hours=1)).observed_at == T0


# --- Keepa tracking thresholds ---------------------------------------------------------------


def test_tracking_thresholds_of_every_price_type_the_prices_come_from() -> None:
    pricing = replace(PRICING, profile=replace(DEFAULT_PROFILE, third_party_vat_invoice=False))
    quotes = by_market(de_amazon(), sell_quote(Market.FR, 5000, 300))
    result = breakevens(quotes, POLICY, pricing, AT)
    thresholds = tracking_thresholds(result.values(), "marketplace")
    assert thresholds == [
        # DE buys: Amazon's offer up to 2478 (below 2479), a third party's up to 2082.
        TrackingThreshold(Market.DE, PriceType.AMAZON, eur(2479), True),
        TrackingThreshold(Market.DE, PriceType.NEW_FBA, eur(2083), True),
        TrackingThreshold(Market.DE, PriceType.NEW_FBM_SHIPPING, eur(2083), True),
        TrackingThreshold(Market.DE, PriceType.NEW, eur(2083), True),
        # FR sells from 4411 (above 4410): the DE offer is Amazon's (VAT recovered).
        TrackingThreshold(Market.FR, PriceType.BUY_BOX_SHIPPING, eur(4410), False),
        TrackingThreshold(Market.FR, PriceType.NEW_FBA, eur(4410), False),
    ]
    assert [t.csv_type for t in thresholds] == [0, 10, 7, 1, 18, 10]
    # Every type a quote's price can come from is tracked (app.domain.envelope's rules).
    buy_types = {t.price_type for t in thresholds if t.is_drop}
    assert buy_types == {*BUY_PRICE_TYPES, BUY_PRICE_FALLBACK}
    assert {t.price_type for t in thresholds if not t.is_drop} == set(SELL_PRICE_TYPES)
    assert (
        tracking_thresholds([Breakeven(ASIN, Market.IT, None, None, None, None)], "marketplace")
        == []
    )


def test_regular_tracking_thresholds_watch_amazon_and_new_only() -> None:
    pricing = replace(PRICING, profile=replace(DEFAULT_PROFILE, third_party_vat_invoice=False))
    quotes = by_market(de_amazon(), sell_quote(Market.FR, 5000, 300))
    result = breakevens(quotes, POLICY, pricing, AT)
    assert tracking_thresholds(result.values(), "regular") == [
        # The same bounds as above: AMAZON with Amazon's, NEW (the lowest new offer) with a
        # third party's; FR's sell break-even on NEW rising.
        TrackingThreshold(Market.DE, PriceType.AMAZON, eur(2479), True),
        TrackingThreshold(Market.DE, PriceType.NEW, eur(2083), True),
        TrackingThreshold(Market.FR, PriceType.NEW, eur(4410), False),
    ]
    assert (
        tracking_thresholds([Breakeven(ASIN, Market.IT, None, None, None, None)], "regular") == []
    )


def test_every_tracking_mode_is_a_setting_value() -> None:
    field = Settings.model_fields["keepa_tracking_price_types"]
    assert set(get_args(field.annotation)) == set(TRACKING_PRICE_TYPES)
    assert field.default in TRACKING_PRICE_TYPES


# --- tracking thresholds against a Keepa snapshot of a market's offers -----------------------


@st.composite
def offer_snapshots(draw: st.DrawFn) -> dict[str, int]:
    """Keepa's current values of one market at one moment, from its new offers as Keepa
    documents the price types (api_backend ``Product.CsvType``): ``AMAZON`` Amazon's offer,
    ``NEW_FBA`` the lowest third-party FBA offer, ``NEW_FBM_SHIPPING`` the lowest third-party
    FBM offer with shipping, ``NEW`` the lowest new offer, Amazon's included, without
    shipping, ``BUY_BOX_SHIPPING`` one of the offers with its shipping (or none); only the
    available ones."""
    price = st.integers(min_value=1, max_value=50_000)
    amazon = draw(st.none() | price)
    fba = draw(st.lists(price, max_size=3))
    fbm = draw(st.lists(st.tuples(price, st.integers(min_value=0, max_value=1_500)), max_size=3))
    landed = [*([] if amazon is None else [amazon]), *fba, *(p + s for p, s in fbm)]
    items = [*([] if amazon is None else [amazon]), *fba, *(p for p, _ in fbm)]
    values: dict[str, int] = {}
    if amazon is not None:
        values[PriceType.AMAZON.name] = amazon
    if fba:
        values[PriceType.NEW_FBA.name] = min(fba)
    if fbm:
        values[PriceType.NEW_FBM_SHIPPING.name] = min(p + s for p, s in fbm)
    if items:
        values[PriceType.NEW.name] = min(items)
    if landed and draw(st.booleans()):
        values[PriceType.BUY_BOX_SHIPPING.name] = draw(st.sampled_from(landed))
    return values


def price_bounds() -> st.SearchStrategy[PriceBound | None]:
    return st.none() | st.integers(min_value=1, max_value=50_000).map(
        lambda p: PriceBound(eur(p), ("DE:FR",), eur(p))
    )


def fired(thresholds: list[TrackingThreshold], values: dict[str, int], drop: bool) -> bool:
    """Keepa's check at a refresh: a threshold's price type has an offer strictly below a
    drop threshold's value or above a rise threshold's."""
    return any(
        (v := values.get(t.price_type.name)) is not None
        and (v < t.value.amount_minor if t.is_drop else v > t.value.amount_minor)
        for t in thresholds
        if t.is_drop is drop
    )


@settings(max_examples=500, deadline=None)
@given(
    values=offer_snapshots(),
    buy=price_bounds(),
    amazon=price_bounds(),
    sell=price_bounds(),
    mode=st.sampled_from(TRACKING_PRICE_TYPES),
)
def test_a_buy_price_on_the_profitable_side_fires_a_drop_in_every_mode(
    values: dict[str, int],
    buy: PriceBound | None,
    amazon: PriceBound | None,
    sell: PriceBound | None,
    mode: TrackingPriceTypes,
) -> None:
    # The quote's buy price as the envelope derives it, and whose offer the detector takes it
    # for (app.domain.fees: Amazon's when it is the AMAZON price); a buy price at or below the
    # bound of that seller is on the profitable side (nothing above a bound opens a route).
    thresholds = tracking_thresholds([Breakeven(ASIN, Market.DE, buy, amazon, sell, None)], mode)
    buy_price = quote_prices(values).buy_price
    if buy_price is None:
        return
    bound = amazon if values.get(PriceType.AMAZON.name) == buy_price else buy
    if bound is not None and buy_price <= bound.price.amount_minor:
        assert fired(thresholds, values, drop=True)


@settings(max_examples=500, deadline=None)
@given(values=offer_snapshots(), sell=price_bounds())
def test_sell_triggers_marketplace_complete_regular_never_for_nothing(
    values: dict[str, int], sell: PriceBound | None
) -> None:
    sell_price = quote_prices(values).sell_price
    results = [Breakeven(ASIN, Market.FR, None, None, sell, None)]
    on_profitable_side = (
        sell is not None and sell_price is not None and sell_price >= sell.price.amount_minor
    )
    # Marketplace: the sell price is one of the watched types, a complete trigger.
    if on_profitable_side:
        assert fired(tracking_thresholds(results, "marketplace"), values, drop=False)
    # Regular: NEW above the bound puts every new offer there, so the sell price (the Buy Box
    # or New FBA, both offers) too: a proxy that never fires for nothing when there is one.
    if sell_price is not None and fired(tracking_thresholds(results, "regular"), values, False):
        assert on_profitable_side


def test_the_regular_sell_proxy_misses_a_buy_box_above_a_cheaper_offer() -> None:
    # FR sells from 44.11: a Buy Box at 46.00 is on the profitable side, but an FBM offer at
    # 39.00 keeps NEW below the bound: only polling sees it.
    values = {"NEW_FBA": 4600, "NEW_FBM_SHIPPING": 4290, "NEW": 3900, "BUY_BOX_SHIPPING": 4600}
    sell = PriceBound(eur(4411), ("DE:FR",), eur(4411))
    results = [Breakeven(ASIN, Market.FR, None, None, sell, None)]
    assert quote_prices(values).sell_price == 4600
    assert fired(tracking_thresholds(results, "marketplace"), values, drop=False)
    assert not fired(tracking_thresholds(results, "regular"), values, drop=False)


# --- properties against the detector ---------------------------------------------------------

ROOTS = st.sampled_from([None, 3167641, BEAUTY_DE, 340846031, 340834031, 186606, 266239])


@st.composite
def asin_states(draw: st.DrawFn) -> tuple[dict[Market, MarketQuote], Pricing, datetime]:
    """The latest quotes of one ASIN in 2 to 4 markets (some stale, some without a buy or a
    sell price), a seller profile with any thresholds, a rate, and when prices are seen."""
    day = draw(
        st.dates(min_value=datetime(2025, 1, 1).date(), max_value=datetime(2027, 1, 1).date())
    )
    observed = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    root = draw(ROOTS)
    weight = draw(st.none() | st.integers(min_value=1, max_value=20_000))
    dims = draw(st.none() | st.tuples(*[st.integers(min_value=1, max_value=600)] * 3))
    markets = draw(st.sets(st.sampled_from(list(Market)), min_size=2, max_size=4))
    prices = st.integers(min_value=100, max_value=30_000)
    quotes: dict[Market, MarketQuote] = {}
    for market in sorted(markets):
        buy = draw(st.none() | prices)
        amazon = draw(st.booleans())
        size: dict[str, Any] = {}
        if dims is not None:
            size = dict(
                zip(
                    ("package_length_mm", "package_width_mm", "package_height_mm"),
                    dims,
                    strict=True,
                )
            )
        age = draw(st.sampled_from([timedelta(0), timedelta(hours=3), timedelta(hours=30)]))
        quotes[market] = MarketQuote(
            asin=ASIN,
            market=market,
            title=None,
            observed_at=observed - age,
            fetched_at=observed - age + timedelta(minutes=5),
            buy_price=buy,
            sell_price=draw(st.none() | prices),
            referral_fee_rate=draw(st.none() | st.sampled_from([Decimal("0.07"), Decimal("0.15")])),
            fba_fee=draw(st.none() | st.integers(min_value=0, max_value=1_500)),
            package_weight_g=weight,
            sales_rank=draw(st.none() | st.integers(min_value=1, max_value=10**6)),
            root_category=root,
            prices={} if buy is None else {"AMAZON" if amazon else "NEW_FBA": buy},
            **size,
        )
    profile: SellerProfile = draw(profiles())
    thresholds = Thresholds(
        min_profit_eur_cents=draw(st.sampled_from([0, 10, 500, 2_000])),
        min_roi=Decimal(draw(st.sampled_from(["0", "0.15", "0.6"]))),
        max_sales_rank=draw(st.none() | st.just(100_000)),
    )
    cheap = draw(st.booleans())  # a seller without inbound, customs or storage costs
    if cheap:
        profile = replace(
            profile,
            inbound_shipping=InboundShipping(per_unit_eur_cents=0, per_step_eur_cents=0),
            gb_customs_eur_cents=0,
            storage_months=0,
        )
    profile = replace(profile, thresholds=thresholds)
    pricing = Pricing(draw(fx_rates), profile, "v-property", SCHEDULE)
    at = observed + timedelta(minutes=draw(st.integers(min_value=0, max_value=180)))
    return quotes, pricing, at


def _bounds(result: Breakeven) -> list[tuple[Side, PriceBound | None, bool]]:
    return [
        ("buy", result.buy_max, False),
        ("buy", result.amazon_buy_max, True),
        ("sell", result.sell_min, False),
    ]


def _check_bound(
    state: tuple[dict[Market, MarketQuote], Pricing, datetime],
    market: Market,
    side: Side,
    bound: PriceBound | None,
    amazon: bool,
    data: st.DataObject,
) -> None:
    quotes, pricing, at = state
    step = 1 if side == "sell" else -1  # towards the profitable side

    def opens(price: int) -> set[str]:
        return opened(quotes, market, side, price, pricing, at=at, amazon_offer=amazon)

    def in_range(price: int) -> bool:
        return MIN_PRICE_MINOR <= price <= MAX_PRICE_MINOR

    if bound is None:
        # No price opens a route: the ends of the range, and any other.
        anywhere = data.draw(st.integers(MIN_PRICE_MINOR, MAX_PRICE_MINOR))
        for price in {MIN_PRICE_MINOR, MAX_PRICE_MINOR, anywhere}:
            assert opens(price) == set(), (market, side, price)
        return
    price = bound.price.amount_minor
    assert bound.price.currency is market.currency
    # At the bound exactly the routes it names open; one minor unit on the other side, and
    # any price beyond, open nothing.
    assert opens(price) == set(bound.routes) != set()
    if in_range(price - step):
        assert opens(price - step) == set(), (market, side, price)
        beyond = (
            data.draw(st.integers(MIN_PRICE_MINOR, price - 1))
            if side == "sell"
            else data.draw(st.integers(price + 1, MAX_PRICE_MINOR))
        )
        assert opens(beyond) == set(), (market, side, price, beyond)
    # The profitable side: every price from all_open_from to the end of the range opens.
    if bound.contiguous and in_range(price + step):
        assert opens(price + step)
    if bound.all_open_from is not None:
        solid = bound.all_open_from.amount_minor
        assert (solid - price) * step >= 0
        assert opens(solid)
        if in_range(solid + step):
            assert opens(solid + step)
            end = MAX_PRICE_MINOR if side == "sell" else MIN_PRICE_MINOR
            inside = data.draw(st.integers(min(solid, end), max(solid, end)))
            assert opens(inside), (market, side, solid, inside)
        if solid != price:
            assert opens(solid - step) == set(), (market, side, solid)


@settings(max_examples=150, deadline=None)
@given(state=asin_states(), data=st.data())
def test_bounds_agree_with_the_detector(
    state: tuple[dict[Market, MarketQuote], Pricing, datetime], data: st.DataObject
) -> None:
    quotes, pricing, at = state
    for market, result in breakevens(quotes, POLICY, pricing, at).items():
        assert result.market is market
        assert result.currency is market.currency
        for side, bound, amazon in _bounds(result):
            _check_bound(state, market, side, bound, amazon, data)


# --- the facts the search relies on ----------------------------------------------------------

#: Sell prices around every referral-fee tier bound of the schedule (whole-price tiers make
#: the fee jump there) and its per-item minimums.
TIER_PRICES = sorted(
    {
        bound + delta
        for rule in SCHEDULE.referral
        for bound in [t.up_to_minor for t in rule.tiers if t.up_to_minor is not None]
        + ([rule.minimum_minor * 100 // 15] if rule.minimum_minor else [])
        for delta in (-1, 0, 1, 2)
    }
)


@st.composite
def price_pairs(draw: st.DrawFn) -> tuple[int, int]:
    near = draw(st.sampled_from(TIER_PRICES))
    low = draw(st.integers(MIN_PRICE_MINOR, 50_000) | st.just(near))
    high = low + draw(st.integers(1, 3) | st.integers(1, 20_000))
    return low, high


@settings(max_examples=400, deadline=None)
@given(state=asin_states(), route=st.sampled_from(ALL_ROUTES), pair=price_pairs())
def test_net_sell_costs_and_investment_never_fall_as_a_price_rises(
    state: tuple[dict[Market, MarketQuote], Pricing, datetime],
    route: Route,
    pair: tuple[int, int],
) -> None:
    # N (net sell) and the investment never fall as either price rises; D = N - profit (the
    # cost lines plus the net buy) falls by at most the slack, and only with a currency
    # conversion fee.
    quotes, pricing, at = state
    buy_q, sell_q = quotes.get(route.buy), quotes.get(route.sell)
    if buy_q is None or sell_q is None:
        buy_q = buy_q or replace(next(iter(quotes.values())), market=route.buy)
        sell_q = sell_q or replace(next(iter(quotes.values())), market=route.sell)
    buy_q = replace(buy_q, buy_price=buy_q.buy_price or 1000)
    sell_q = replace(sell_q, sell_price=sell_q.sell_price or 3000)
    slack = COST_SLACK_EUR_CENTS if pricing.profile.fx_fee_rate > 0 else 0
    low, high = pair
    ends: list[tuple[Callable[[int], tuple[MarketQuote, MarketQuote]], str]] = [
        (lambda p: (hypothetical_quote(buy_q, "buy", p, at), sell_q), "buy"),
        (lambda p: (hypothetical_quote(buy_q, "buy", p, at, amazon_offer=True), sell_q), "buy"),
        (lambda p: (buy_q, hypothetical_quote(sell_q, "sell", p, at)), "sell"),
    ]
    for make, side in ends:
        try:
            a = price_route(*make(low), pricing.fx, pricing.profile, SCHEDULE)
            b = price_route(*make(high), pricing.fx, pricing.profile, SCHEDULE)
        except LookupError:  # a route the schedule cannot price, at any price
            return
        assert a is not None
        assert b is not None
        cost_a = a.net_sell_eur_cents - a.profit_eur_cents
        cost_b = b.net_sell_eur_cents - b.profit_eur_cents
        assert b.net_sell_eur_cents >= a.net_sell_eur_cents, side
        assert cost_b >= cost_a - slack, (side, low, high, cost_a, cost_b)
        assert b.investment_eur_cents >= a.investment_eur_cents, side
        assert ("max_sales_rank" in a.failed_thresholds) == (
            "max_sales_rank" in b.failed_thresholds
        )
