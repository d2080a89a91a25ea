"""Opportunity quality signals from hand-made Keepa products (expected values by hand)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.envelope import quote_from_keepa_product, sell_price_type
from app.domain.keepa_prices import CSV_LENGTH, PriceType
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.signals import (
    Competition,
    Demand,
    MarketSignals,
    Restrictions,
    estimate_monthly_sales,
    expected_monthly_units,
    market_signals,
    opportunity_signals,
)
from tests.keepa_factory import DEFAULT_FETCHED_AT, keepa_product, make_quote

BB = PriceType.BUY_BOX_SHIPPING
SPIKE_SHARE = DetectionPolicy().spike_share  # 0.20
AMAZON_DE = Market.DE.amazon_seller_id
NO_FLAGS = Restrictions(None, (), None, None)


def signals(
    product: dict[str, Any],
    market: Market = Market.DE,
    price_type: PriceType | None = BB,
    spike_share: Decimal = SPIKE_SHARE,
) -> MarketSignals:
    return market_signals(product, market, price_type, spike_share=spike_share)


# --- sell-price stability -------------------------------------------------------------


def test_a_stable_sell_price() -> None:
    product = keepa_product(
        buy_box=2499,
        avg30={BB: 2399},
        avg90={BB: 2299},
        range_90={BB: (1999, 2599)},
    )
    stability = signals(product).stability
    assert stability.price_type is BB
    assert (stability.current, stability.avg30, stability.avg90) == (2499, 2399, 2299)
    assert (stability.low_90, stability.high_90) == (1999, 2599)
    assert stability.current_to_avg30 == Fraction(2499, 2399)
    assert stability.current_to_avg90 == Fraction(2499, 2299)
    # Spike above 2299 x 1.20 = 2758.8; 2499 is 8.7 % above the 90-day average.
    assert stability.spike is False


def test_a_spike() -> None:
    # 2799 > 2299 x 1.20 = 2758.8 (21.7 % above the 90-day average).
    product = keepa_product(buy_box=2799, avg30={BB: 2350}, avg90={BB: 2299})
    assert signals(product).stability.spike is True


@pytest.mark.parametrize(
    ("current", "spike"),
    [
        (3000, False),  # 2500 x 1.20 = 3000 exactly: not *more* than 20 % above
        (3001, True),
    ],
)
def test_the_spike_threshold_is_exclusive_and_exact(current: int, spike: bool) -> None:
    product = keepa_product(buy_box=current, avg90={BB: 2500})
    assert signals(product).stability.spike is spike


def test_the_spike_share_is_a_parameter() -> None:
    # 2799 / 2299 = 1.2175...: a spike at 20 %, not at 25 % (2299 x 1.25 = 2873.75).
    product = keepa_product(buy_box=2799, avg90={BB: 2299})
    assert signals(product, spike_share=Decimal("0.20")).stability.spike is True
    assert signals(product, spike_share=Decimal("0.25")).stability.spike is False
    # 0: any price above the average is a spike.
    assert signals(
        keepa_product(buy_box=2300, avg90={BB: 2299}), spike_share=Decimal(0)
    ).stability.spike


def test_shipping_is_in_the_current_value_like_in_keepas_stats() -> None:
    # BUY_BOX_SHIPPING's current value and its stats are price + shipping: 2499 + 350.
    product = keepa_product(buy_box=2499, buy_box_shipping=350, avg90={BB: 2849})
    stability = signals(product).stability
    assert stability.current == 2849
    assert stability.current_to_avg90 == 1


def test_the_sell_price_type_the_detector_uses() -> None:
    # No buy box: the quote sells at NEW_FBA (10); its statistics are read, not the buy box's.
    product = keepa_product(
        new_fba=2049,
        avg30={PriceType.NEW_FBA: 2000, BB: 9999},
        avg90={PriceType.NEW_FBA: 1900, BB: 9999},
        range_90={PriceType.NEW_FBA: (1800, 2100)},
    )
    quote = make_quote(new_fba=2049)
    price_type = sell_price_type(quote.prices)
    assert price_type is PriceType.NEW_FBA
    stability = signals(product, price_type=price_type).stability
    assert stability.current == quote.sell_price == 2049
    assert (stability.avg30, stability.avg90, stability.low_90, stability.high_90) == (
        2000,
        1900,
        1800,
        2100,
    )


def test_the_current_value_is_the_quotes_sell_price() -> None:
    product = keepa_product(buy_box=2499, buy_box_shipping=99, new_fba=2599)
    quote = make_quote(buy_box=2499, buy_box_shipping=99, new_fba=2599)
    price_type = sell_price_type(quote.prices)
    assert price_type is BB
    assert signals(product, price_type=price_type).stability.current == quote.sell_price == 2598


def test_without_a_sell_price_type_stability_is_unknown() -> None:
    product = keepa_product(amazon=1999, avg90={BB: 2299})
    assert sell_price_type(make_quote(amazon=1999).prices) is None
    stability = signals(product, price_type=None).stability
    assert stability.price_type is None
    assert stability.current is stability.avg90 is stability.spike is None
    assert stability.current_to_avg30 is None


@pytest.mark.parametrize("sentinel", [-1, -2, 0])
def test_average_sentinels_are_unknown_not_zero(sentinel: int) -> None:
    # Keepa: -1 = no offer in the interval / insufficient data; -2 = no data; 0 is no price.
    product = keepa_product(buy_box=2499, avg30={BB: sentinel}, avg90={BB: sentinel})
    stability = signals(product).stability
    assert stability.avg30 is stability.avg90 is None
    assert stability.current_to_avg90 is None
    assert stability.spike is None  # unknown, not "no spike"


def test_a_current_sentinel_leaves_the_spike_unknown() -> None:
    # Buy box lost now (-1 in csv and stats.current): nothing to compare.
    product = keepa_product(buy_box=-1, avg90={BB: 2299})
    stability = signals(product).stability
    assert stability.current is None
    assert stability.avg90 == 2299
    assert stability.spike is None


def test_a_range_without_the_type_is_unknown() -> None:
    product = keepa_product(buy_box=2499, range_90={PriceType.NEW_FBA: (1, 2)})
    stability = signals(product).stability
    assert stability.low_90 is stability.high_90 is None


# --- demand ---------------------------------------------------------------------------


def test_monthly_sold_is_the_estimate_when_keepa_has_it() -> None:
    product = keepa_product(sales_rank=812, monthly_sold=300, rank_drops=(45, 120))
    demand = signals(product).demand
    assert demand.sales_rank == 812
    assert (demand.rank_drops_30, demand.rank_drops_90, demand.monthly_sold) == (45, 120, 300)
    # Amazon's "300+ bought in past month" beats the 45-drop lower bound.
    assert (demand.estimated_monthly_sales, demand.estimate_method) == (300, "monthly_sold")


def test_rank_drops_are_a_lower_bound_of_sales() -> None:
    # No monthlySold: each of the 45 drops in 30 days is at least one sale.
    demand = signals(keepa_product(rank_drops=(45, 120))).demand
    assert demand.monthly_sold is None
    assert (demand.estimated_monthly_sales, demand.estimate_method) == (45, "sales_rank_drops_30")


def test_ninety_day_drops_when_the_thirty_day_ones_are_unknown() -> None:
    # 121 drops in 90 days -> 121 // 3 = 40 a month (40.33 floored).
    demand = signals(keepa_product(rank_drops=(-1, 121))).demand
    assert demand.rank_drops_30 is None
    assert (demand.estimated_monthly_sales, demand.estimate_method) == (40, "sales_rank_drops_90")


def test_zero_drops_are_known_zero_sales() -> None:
    demand = signals(keepa_product(rank_drops=(0, 0))).demand
    assert (demand.estimated_monthly_sales, demand.estimate_method) == (0, "sales_rank_drops_30")


@pytest.mark.parametrize("monthly_sold", [0, -1, "300", True])
def test_monthly_sold_without_a_value_is_unknown(monthly_sold: object) -> None:
    # Keepa: 0 (the Java default) / null = "no value"; most ASINs have none.
    product = keepa_product(rank_drops=(-1, -1))
    product["monthlySold"] = monthly_sold
    demand = signals(product).demand
    assert demand.monthly_sold is None
    assert demand.rank_drops_30 is demand.rank_drops_90 is None  # -1: Keepa's "no data"
    assert demand.estimated_monthly_sales is demand.estimate_method is None


def test_the_rank_falls_back_to_sales_ranks_like_the_quote() -> None:
    product = keepa_product(sales_rank=None)  # no csv[3], no stats.current[3]
    assert signals(product).demand.sales_rank is None
    product["salesRanks"] = {"3167641": [7000000, 5000, 7001000, 4321]}
    quote = quote_from_keepa_product(product, Market.DE, DEFAULT_FETCHED_AT)
    assert signals(product).demand.sales_rank == quote.sales_rank == 4321


def test_estimate_monthly_sales_order() -> None:
    assert estimate_monthly_sales(None, None, None) is None
    assert estimate_monthly_sales(50, 70, 300) == (50, "monthly_sold")
    assert estimate_monthly_sales(None, 70, 300) == (70, "sales_rank_drops_30")
    assert estimate_monthly_sales(None, None, 2) == (0, "sales_rank_drops_90")


# --- competition ----------------------------------------------------------------------


def test_new_offers_amazon_and_its_buy_box_share() -> None:
    product = keepa_product(
        amazon=2399,
        buy_box=2399,
        new_offers=7,
        buy_box_stats={AMAZON_DE: 62.5, "A1SELLER0000X": 37.5},
    )
    competition = signals(product).competition
    assert competition.new_offer_count == 7
    assert competition.amazon_sells is True
    assert competition.amazon_buy_box_share == Decimal("0.625")


def test_buy_box_stats_without_amazon_is_a_zero_share() -> None:
    # Amazon's DE seller id in an FR product: another seller there; Amazon FR never won.
    product = keepa_product(
        market=Market.FR, buy_box=2399, buy_box_stats={AMAZON_DE: 80.0, "A1SELLER0000X": 20.0}
    )
    assert signals(product, Market.FR).competition.amazon_buy_box_share == Decimal(0)


def test_gb_reads_amazon_uks_seller_id() -> None:
    product = keepa_product(market=Market.GB, buy_box=1999, buy_box_stats={"A3P5ROKL5A1OLE": 12.25})
    assert signals(product, Market.GB).competition.amazon_buy_box_share == Decimal("0.1225")


@pytest.mark.parametrize("won", ["62.5", None, True, 100.5, -1.0, float("nan")])
def test_an_unusable_percentage_is_unknown(won: object) -> None:
    product = keepa_product(buy_box=2399, buy_box_stats={AMAZON_DE: 1.0})
    product["stats"]["buyBoxStats"][AMAZON_DE]["percentageWon"] = won
    assert signals(product).competition.amazon_buy_box_share is None


def test_zero_new_offers_is_known() -> None:
    assert signals(keepa_product(new_offers=0)).competition.new_offer_count == 0


@pytest.mark.parametrize("sentinel", [-1, -2])
def test_a_count_sentinel_falls_back_to_the_history(sentinel: int) -> None:
    product = keepa_product(new_offers=5)
    product["stats"]["current"][PriceType.COUNT_NEW] = sentinel
    assert signals(product).competition.new_offer_count == 5  # csv[11]'s newest point
    product["csv"][PriceType.COUNT_NEW] = None
    assert signals(product).competition.new_offer_count is None


@pytest.mark.parametrize(
    ("availability", "amazon_sells"),
    [
        (0, True),  # in stock
        (1, True),  # pre-order
        (3, True),  # back-order
        (4, True),  # delayed
        (-1, False),  # no Amazon offer
        (2, None),  # Keepa: "unknown"
        (None, None),
        ("0", None),
    ],
)
def test_amazon_availability_without_an_amazon_price(
    availability: object, amazon_sells: bool | None
) -> None:
    product = keepa_product(new_fba=2049)  # no AMAZON history at all
    product["availabilityAmazon"] = availability
    assert signals(product).competition.amazon_sells is amazon_sells


def test_an_amazon_price_means_amazon_sells_whatever_the_availability() -> None:
    product = keepa_product(amazon=1999)
    product["availabilityAmazon"] = 2
    assert signals(product).competition.amazon_sells is True


def test_amazon_out_of_stock_now_does_not_sell() -> None:
    product = keepa_product(amazon=-1)  # csv and stats.current say -1
    assert signals(product).competition.amazon_sells is False
    product["availabilityAmazon"] = 2  # unknown: the -1 of the history decides
    assert signals(product).competition.amazon_sells is False
    del product["availabilityAmazon"]
    assert signals(product).competition.amazon_sells is False


def test_competition_unknown_without_data() -> None:
    product = keepa_product(new_fba=2049)
    del product["availabilityAmazon"]
    competition = signals(product).competition
    assert competition.new_offer_count is None
    assert competition.amazon_sells is None
    assert competition.amazon_buy_box_share is None  # no buyBoxStats (no buybox=1)


# --- restrictions ---------------------------------------------------------------------


def test_restriction_flags() -> None:
    product = keepa_product()
    product["hazardousMaterials"] = [
        {"aspect": "ghs_classification", "value": "flammable"},
        {"value": "no aspect"},
    ]
    product["isAdultProduct"] = False
    product["isHeatSensitive"] = False
    restrictions = signals(product).restrictions
    assert restrictions.hazardous_material is True
    assert restrictions.hazardous_aspects == ("ghs_classification",)
    assert (restrictions.adult_product, restrictions.heat_sensitive) == (False, False)
    assert restrictions.restricted is True


def test_all_flags_clear() -> None:
    product = keepa_product()
    product.update(hazardousMaterials=[], isAdultProduct=False, isHeatSensitive=False)
    restrictions = signals(product).restrictions
    assert restrictions.hazardous_material is False
    assert restrictions.restricted is False


def test_flags_unknown_without_the_fields() -> None:
    product = keepa_product()
    product["isAdultProduct"] = "false"  # not a JSON boolean: unknown
    restrictions = signals(product).restrictions
    assert restrictions == NO_FLAGS
    assert restrictions.restricted is None


def test_a_known_flag_with_unknown_others() -> None:
    product = keepa_product()
    product["isAdultProduct"] = True
    assert signals(product).restrictions.restricted is True
    product["isAdultProduct"] = False
    assert signals(product).restrictions.restricted is None  # the others are unknown


# --- expected monthly profit ----------------------------------------------------------


def test_expected_monthly_profit_by_hand() -> None:
    # 45 sales (drops in 30 days) shared by 4 new offers + the newcomer: 45 / 5 = 9 units;
    # 9 x EUR 6.50 = EUR 58.50.
    sell = signals(keepa_product(buy_box=2499, rank_drops=(45, 120), new_offers=4))
    result = opportunity_signals(sell, 650)
    assert result.sell is sell
    assert result.expected_monthly_units == 9
    assert result.expected_monthly_profit_eur_cents == 5850


def test_expected_monthly_profit_rounds_half_up_once() -> None:
    # monthlySold 100 shared by 2 offers + 1: 100 / 3 = 33.33 units; 33.33 x 500 cents =
    # 16666.67 -> 16667 cents (rounded once, at the end; 33 units x 500 would say 16500).
    sell = signals(keepa_product(monthly_sold=100, new_offers=2))
    result = opportunity_signals(sell, 500)
    assert result.expected_monthly_units == Fraction(100, 3)
    assert result.expected_monthly_profit_eur_cents == 16667


def test_a_lone_seller_gets_all_sales() -> None:
    # No new offer: 12 sales / (0 + 1) = 12 units x 815 = 9780.
    sell = signals(keepa_product(rank_drops=(12, 30), new_offers=0))
    assert opportunity_signals(sell, 815).expected_monthly_profit_eur_cents == 9780


@pytest.mark.parametrize(
    "kwargs",
    [
        {"new_offers": 3},  # sales unknown
        {"rank_drops": (45, 120)},  # offers unknown
        {},
    ],
)
def test_expected_monthly_profit_unknown_not_zero(kwargs: dict[str, Any]) -> None:
    result = opportunity_signals(signals(keepa_product(**kwargs)), 650)
    assert result.expected_monthly_units is None
    assert result.expected_monthly_profit_eur_cents is None


# --- robustness -----------------------------------------------------------------------


def test_a_product_without_stats_has_only_what_csv_says() -> None:
    product = keepa_product(buy_box=2499, amazon=2599, new_offers=3, stats=False)
    sell = signals(product)
    assert sell.stability.current == 2499  # csv's newest point
    assert sell.stability.avg90 is sell.stability.spike is None
    assert sell.demand.rank_drops_30 is None
    assert sell.competition.new_offer_count == 3
    assert sell.competition.amazon_sells is True


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p.update(csv="oops"),
        lambda p: p.update(stats=[]),
        lambda p: p["stats"].update(current={"0": 1}),
        lambda p: p["stats"].update(avg90="1,2,3", avg30=[None] * CSV_LENGTH),
        lambda p: p["stats"].update(minInInterval=[[1]] * CSV_LENGTH, maxInInterval=7),
        lambda p: p["stats"].update(salesRankDrops30=4.5, salesRankDrops90=True),
        lambda p: p["stats"].update(buyBoxStats={AMAZON_DE: [62.5]}),
        lambda p: p["stats"]["current"].__setitem__(BB, "2499"),
        lambda p: p.update(hazardousMaterials="yes", availabilityAmazon=9),
    ],
)
def test_malformed_fields_are_unknown_never_an_error(mangle: Any) -> None:
    product = keepa_product(buy_box=2499, avg90={BB: 2299}, rank_drops=(4, 9))
    mangle(product)
    signals(product)  # no exception: signals are metadata


def test_a_malformed_current_price_is_unknown() -> None:
    product = keepa_product(buy_box=2499, avg90={BB: 2299})
    product["stats"]["current"][BB] = 10**9  # above MAX_PRICE_MINOR: the quote rejects it
    assert signals(product).stability.current is None


# --- properties -----------------------------------------------------------------------

STABLE = signals(keepa_product(buy_box=2499, avg90={BB: 2499})).stability


@given(
    profit=st.integers(0, 100_000),
    sales=st.integers(0, 100_000),
    offers=st.integers(0, 500),
)
def test_expected_profit_never_exceeds_profit_times_sales(
    profit: int, sales: int, offers: int
) -> None:
    demand = Demand(None, None, None, sales, sales, "monthly_sold")
    competition = Competition(offers, None, None)
    units = expected_monthly_units(demand, competition)
    assert units is not None
    assert 0 <= units <= sales
    sell = MarketSignals(Market.DE, STABLE, demand, competition, NO_FLAGS)
    expected = opportunity_signals(sell, profit).expected_monthly_profit_eur_cents
    assert expected is not None
    assert 0 <= expected <= profit * sales
    if offers == 0:
        assert expected == profit * sales


@given(
    current=st.integers(1, 1_000_000),
    avg90=st.integers(1, 1_000_000),
    share=st.decimals(min_value=0, max_value=5, places=4),
)
def test_spike_iff_the_ratio_exceeds_one_plus_the_share(
    current: int, avg90: int, share: Decimal
) -> None:
    product = keepa_product(buy_box=current, avg90={BB: avg90})
    stability = signals(product, spike_share=share).stability
    assert stability.current_to_avg90 is not None
    assert stability.spike is (stability.current_to_avg90 > 1 + Fraction(share))
