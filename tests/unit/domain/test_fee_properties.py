"""Properties of app.domain.fees.price_route over generated quotes and profiles: the profit is
exactly net sell minus the cost lines minus net buy; adding a cost never raises the profit;
the same input and profile give the same result."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.fee_schedule import default_fee_schedule
from app.domain.fees import RouteBreakdown, price_route, profit_upper_bound
from app.domain.fx import FxRates
from app.domain.markets import ALL_ROUTES, Market, Route
from app.domain.profile import (
    DEFAULT_PROFILE,
    SellerProfile,
    SellFulfilment,
    with_overrides,
)
from app.domain.quote import MarketQuote

SCHEDULE = default_fee_schedule()
BOOKS = {Market.DE: 186606, Market.FR: 301061, Market.IT: 411663, Market.ES: 599364}
BOOKS[Market.GB] = 266239

# Observation days across the DSF change of 2026-03-20 (the FBA card starts 2025-01-01).
days = st.dates(min_value=datetime(2025, 1, 1).date(), max_value=datetime(2027, 1, 1).date())
prices = st.integers(min_value=1, max_value=500_000)


@st.composite
def quote_pairs(draw: st.DrawFn) -> tuple[MarketQuote, MarketQuote]:
    route: Route = draw(st.sampled_from(ALL_ROUTES))
    day = draw(days)
    observed = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    book = draw(st.booleans())
    weight = draw(st.none() | st.integers(min_value=1, max_value=20_000))
    dims = draw(st.none() | st.tuples(*[st.integers(min_value=1, max_value=600)] * 3))
    common: dict[str, Any] = {
        "asin": "B0PROPERTY",
        "title": None,
        "observed_at": observed,
        "fetched_at": observed + timedelta(minutes=5),
        "package_weight_g": weight,
        "sales_rank": draw(st.none() | st.integers(min_value=1, max_value=10**6)),
    }
    if dims is not None:
        common |= dict(
            zip(("package_length_mm", "package_width_mm", "package_height_mm"), dims, strict=True)
        )
    buy_price = draw(prices)
    amazon = draw(st.booleans())
    buy = MarketQuote(
        market=route.buy,
        buy_price=buy_price,
        sell_price=None,
        root_category=BOOKS[route.buy] if book else draw(st.none() | st.just(3167641)),
        prices={"AMAZON": buy_price} if amazon else {"NEW_FBA": buy_price},
        **common,
    )
    sell = MarketQuote(
        market=route.sell,
        buy_price=None,
        sell_price=draw(prices),
        root_category=BOOKS[route.sell] if book else None,
        fba_fee=draw(st.none() | st.integers(min_value=0, max_value=2_000)),
        referral_fee_rate=draw(st.none() | st.sampled_from([Decimal("0.07"), Decimal("0.15")])),
        **common,
    )
    return buy, sell


@st.composite
def profiles(draw: st.DrawFn) -> SellerProfile:
    home = draw(st.sampled_from([Market.DE, Market.FR, Market.IT, Market.ES]))
    fulfilment = {}
    for market in Market:
        options = ["local_fba", "mfn"] + (["efn"] if market not in (home, Market.GB) else [])
        mode = draw(st.sampled_from(options))
        shipping = draw(st.integers(min_value=0, max_value=2_000)) if mode == "mfn" else None
        fulfilment[market] = SellFulfilment(mode, shipping)  # type: ignore[arg-type]
    rates = st.sampled_from(["0", "0.01", "0.025", "0.05"])
    return replace(
        DEFAULT_PROFILE,
        established_in=draw(st.sampled_from(["DE", "FR", "IT", "ES", "GB", "PL"])),
        home_market=home,
        vat_registered_in=frozenset(draw(st.sets(st.sampled_from(list(Market))))),
        input_vat_recoverable=draw(st.booleans()),
        third_party_vat_invoice=draw(st.booleans()),
        fulfilment=fulfilment,
        prep_eur_cents=draw(st.integers(min_value=0, max_value=500)),
        import_duty_rate=Decimal(draw(rates)),
        fx_fee_rate=Decimal(draw(rates)),
        returns_allowance_rate=Decimal(draw(rates)),
    )


fx_rates = st.decimals(min_value=Decimal("0.8"), max_value=Decimal("1.5"), places=4).map(
    lambda rate: FxRates(rate, datetime(2025, 1, 1, tzinfo=UTC))
)


def priced(
    pair: tuple[MarketQuote, MarketQuote], fx: FxRates, profile: SellerProfile
) -> RouteBreakdown:
    result = price_route(pair[0], pair[1], fx, profile, SCHEDULE)
    assert result is not None
    return result


@settings(max_examples=300, deadline=None)
@given(pair=quote_pairs(), fx=fx_rates, profile=profiles())
def test_profit_is_net_sell_minus_cost_lines_minus_net_buy(
    pair: tuple[MarketQuote, MarketQuote], fx: FxRates, profile: SellerProfile
) -> None:
    result = priced(pair, fx, profile)
    costs = sum(line.eur_cents for line in result.lines if line.is_cost)
    assert result.profit_eur_cents == result.net_sell_eur_cents - costs - result.net_buy_eur_cents
    for line in result.lines:
        assert line.amount_minor > 0
        assert line.eur_cents == fx.to_eur_cents(line.amount_minor, line.currency)
    # Exact threshold decisions, whatever the display rounding.
    assert ("min_profit" in result.failed_thresholds) == (
        result.profit_eur_cents < profile.thresholds.min_profit_eur_cents
    )


@settings(max_examples=300, deadline=None)
@given(pair=quote_pairs(), fx=fx_rates, profile=profiles())
def test_the_detection_pre_filter_is_a_true_upper_bound_of_the_profit(
    pair: tuple[MarketQuote, MarketQuote], fx: FxRates, profile: SellerProfile
) -> None:
    # Detection skips a route whose bound is below the minimum profit: never one that
    # price_route would make an opportunity.
    bound = profit_upper_bound(pair[0], pair[1], fx, profile, SCHEDULE)
    assert bound is not None
    assert priced(pair, fx, profile).profit_eur_cents <= bound


#: Changes that each add a cost (or make one bigger), never remove one.
COSTLIER = [
    {"prep_eur_cents": "700"},
    {"gb_customs_eur_cents": "900"},
    {"import_duty_rate": "0.1"},
    {"fx_fee_rate": "0.09"},
    {"returns_allowance_rate": "0.2"},
    {"vat_registered_in": ""},  # VAT on fees becomes a cost everywhere
    {"input_vat_recoverable": "false"},  # purchase VAT becomes a cost
    {"inbound_shipping.per_unit_eur_cents": "2000"},
    {"inbound_shipping.per_step_eur_cents": "50"},
]


@settings(max_examples=300, deadline=None)
@given(
    pair=quote_pairs(),
    fx=fx_rates,
    profile=profiles(),
    change=st.sampled_from(COSTLIER),
)
def test_adding_a_cost_never_raises_the_profit(
    pair: tuple[MarketQuote, MarketQuote],
    fx: FxRates,
    profile: SellerProfile,
    change: dict[str, str],
) -> None:
    # Only changes that really add: a value already higher in the profile is left alone.
    current = {
        "prep_eur_cents": profile.prep_eur_cents,
        "gb_customs_eur_cents": profile.gb_customs_eur_cents,
    }
    for key, value in change.items():
        if key in current and current[key] > int(value):
            return
    base = priced(pair, fx, profile)
    costlier = priced(pair, fx, with_overrides(profile, change))
    assert costlier.profit_eur_cents <= base.profit_eur_cents
    assert costlier.total_costs_eur_cents >= base.total_costs_eur_cents


@settings(max_examples=100, deadline=None)
@given(pair=quote_pairs(), fx=fx_rates, profile=profiles())
def test_same_input_and_profile_give_the_same_result(
    pair: tuple[MarketQuote, MarketQuote], fx: FxRates, profile: SellerProfile
) -> None:
    first = priced(pair, fx, profile)
    # An equal profile rebuilt from its mapping, equal quotes rebuilt field by field.
    again = price_route(
        replace(pair[0]), replace(pair[1]), fx, with_overrides(profile, {}), SCHEDULE
    )
    assert again == first
