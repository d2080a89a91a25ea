"""How close an ASIN is to an opportunity (required move), and price volatility."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.detection import Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fees import RouteBreakdown, price_route
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.quote import MarketQuote
from app.ingest.estimates import (
    outlook,
    relative_volatility,
    required_move,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = DetectionPolicy()
FX = FxRates(Decimal("1.17"), T0)
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-default", default_fee_schedule())
THRESHOLDS = DEFAULT_PROFILE.thresholds


def evaluate_route(buy: MarketQuote, sell: MarketQuote) -> RouteBreakdown | None:
    return price_route(buy, sell, FX, DEFAULT_PROFILE, PRICING.schedule)


def quote(market: Market, buy: int | None, sell: int | None) -> MarketQuote:
    return MarketQuote(
        asin="B0TESTAS1N",
        market=market,
        title="t",
        observed_at=T0,
        fetched_at=T0,
        buy_price=buy,
        sell_price=sell,
        fba_fee=300,
        package_weight_g=500,
    )


def test_required_move_is_the_rise_that_makes_the_route_an_opportunity() -> None:
    buy, sell = quote(Market.DE, 2000, 2100), quote(Market.FR, 2100, 3000)
    evaluation = evaluate_route(buy, sell)
    assert evaluation is not None
    assert not evaluation.is_opportunity
    move = required_move(evaluation, THRESHOLDS)
    assert 0 < move < 1
    # a sell price just above (1 + move) x the current one makes it an opportunity ...
    above = quote(Market.FR, 2100, math.ceil(3000 * (1 + move)) + 5)
    after = evaluate_route(buy, above)
    assert after is not None
    assert after.is_opportunity
    # ... and one clearly below does not
    below = quote(Market.FR, 2100, int(3000 * (1 + move)) - 30)
    before = evaluate_route(buy, below)
    assert before is not None
    assert not before.is_opportunity


def test_required_move_is_negative_for_an_opportunity() -> None:
    evaluation = evaluate_route(quote(Market.DE, 2000, None), quote(Market.FR, None, 5000))
    assert evaluation is not None
    assert evaluation.is_opportunity
    assert required_move(evaluation, THRESHOLDS) < 0


def test_outlook_over_all_routes() -> None:
    quotes = {
        Market.DE: quote(Market.DE, 2000, 2100),
        Market.FR: quote(Market.FR, 2100, 5000),
        Market.IT: quote(Market.IT, None, None),
    }
    view = outlook(quotes, POLICY, PRICING)
    assert view.best_profit_eur_cents is not None
    assert view.best_profit_eur_cents >= 500
    assert view.required_move is not None
    assert view.required_move < 0
    assert view.opportunity_markets == frozenset({"DE", "FR"})
    assert outlook({}, POLICY, PRICING).required_move is None


def test_relative_volatility() -> None:
    assert relative_volatility([]) == 0.0
    assert relative_volatility([1000]) == 0.0
    assert relative_volatility([1000, 1000, 1000]) == 0.0
    assert relative_volatility([900, 1100]) == pytest.approx(0.1)
