"""Hand-computed profit cases. Defaults: registered VAT mode, referral 15 % (min 30 c),
shipping 450 + 12 c per started 100 g (+500 customs with GB), FX 1.17 EUR/GBP.
Test products weigh 500 g and measure 200 x 150 x 50 mm (FBA extra-large envelope)."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.domain.fx import FxRates
from app.domain.markets import Market, Route
from app.domain.policy import PricingPolicy
from app.domain.pricing import (
    RouteEvaluation,
    evaluate_route,
    net_of_vat,
    ratio,
    shipping_eur_cents,
)
from app.domain.quote import MarketQuote
from tests.keepa_factory import make_quote

POLICY = PricingPolicy()
FX = FxRates(eur_per_gbp=Decimal("1.17"), as_of=datetime(2025, 3, 1, tzinfo=UTC))


def buy_quote(market: Market, price: int, **kwargs: Any) -> MarketQuote:
    return make_quote(market=market, amazon=price, **kwargs)


def sell_quote(market: Market, price: int, **kwargs: Any) -> MarketQuote:
    return make_quote(market=market, buy_box=price, **kwargs)


def evaluate(
    buy: MarketQuote, sell: MarketQuote, policy: PricingPolicy = POLICY
) -> RouteEvaluation:
    evaluation = evaluate_route(buy, sell, policy, FX)
    assert evaluation is not None
    return evaluation


# --- VAT -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("market", "expected"),
    [
        (Market.DE, 10084),  # 12000 / 1.19 = 10084.03
        (Market.FR, 10000),  # 12000 / 1.20
        (Market.IT, 9836),  # 12000 / 1.22 = 9836.07
        (Market.ES, 9917),  # 12000 / 1.21 = 9917.36
        (Market.GB, 10000),  # 12000 / 1.20
    ],
)
def test_net_of_vat_per_market(market: Market, expected: int) -> None:
    assert net_of_vat(12000, market.vat_rate) == expected


@pytest.mark.parametrize(
    ("sell_market", "net_sell", "vat_sell"),
    [
        (Market.DE, 10084, 1916),
        (Market.FR, 10000, 2000),
        (Market.IT, 9836, 2164),
        (Market.ES, 9917, 2083),
        # 12000 p x 1.17 = 14040 c; / 1.20 = 11700.
        (Market.GB, 11700, 2340),
    ],
)
def test_sell_vat_for_every_market(sell_market: Market, net_sell: int, vat_sell: int) -> None:
    buy_market = Market.ES if sell_market is not Market.ES else Market.DE
    result = evaluate(buy_quote(buy_market, 2000), sell_quote(sell_market, 12000))
    assert result.breakdown.net_sell_eur_cents == net_sell
    assert result.breakdown.vat_sell_eur_cents == vat_sell


def test_net_of_vat_rounds_half_up() -> None:
    assert net_of_vat(1755, Decimal("0.20")) == 1463  # 1462.5 -> 1463


# --- full routes ---------------------------------------------------------------------------


def test_de_to_fr_opportunity() -> None:
    result = evaluate(buy_quote(Market.DE, 2000), sell_quote(Market.FR, 4800))
    b = result.breakdown
    assert (result.buy_price_eur_cents, result.sell_price_eur_cents) == (2000, 4800)
    assert b.net_sell_eur_cents == 4000  # 4800 / 1.20
    assert b.vat_sell_eur_cents == 800
    assert b.net_buy_eur_cents == 1681  # 2000 / 1.19 = 1680.67
    assert b.vat_buy_eur_cents == 319
    assert b.referral_fee_eur_cents == 720  # 15 % x 4800
    assert b.fba_fee_eur_cents == 425  # FR extra-large envelope (no Keepa fee)
    assert b.shipping_eur_cents == 510  # 450 + 5 x 12
    # 4000 - 720 - 425 - 510 - 1681 = 664
    assert result.profit_eur_cents == 664
    assert result.roi == Decimal("0.3031")  # 664 / (1681 + 510) = 0.30306
    assert result.margin == Decimal("0.1660")  # 664 / 4000
    assert result.is_opportunity
    assert result.fba_fee_source == "size_tier"
    assert result.fba_fee_estimated is False
    assert result.referral_fee_rate == Decimal("0.15")
    assert result.route == Route(Market.DE, Market.FR)
    assert result.route_key == "DE:FR"
    assert result.title == "Acme Stainless Steel Water Bottle 750 ml"


def test_unrecoverable_vat_makes_purchase_vat_a_cost() -> None:
    policy = PricingPolicy(vat_mode="unrecoverable")
    result = evaluate(buy_quote(Market.DE, 2000), sell_quote(Market.FR, 4800), policy)
    assert result.breakdown.net_buy_eur_cents == 2000
    assert result.breakdown.vat_buy_eur_cents == 319  # contained, not recovered
    # 4000 - 720 - 425 - 510 - 2000 = 345 < 500
    assert result.profit_eur_cents == 345
    assert result.roi == Decimal("0.1375")  # 345 / 2510 = 0.13745
    assert not result.is_opportunity


def test_spread_that_vanishes_after_vat_and_fees() -> None:
    # IT 25.00 -> DE 35.00: a 10 EUR (40 %) gross spread ...
    result = evaluate(buy_quote(Market.IT, 2500), sell_quote(Market.DE, 3500))
    assert result.sell_price_eur_cents - result.buy_price_eur_cents == 1000
    b = result.breakdown
    assert b.net_sell_eur_cents == 2941  # 3500 / 1.19 = 2941.18
    assert b.referral_fee_eur_cents == 525  # 15 % x 3500
    assert b.fba_fee_eur_cents == 350  # DE extra-large envelope
    assert b.shipping_eur_cents == 510
    assert b.net_buy_eur_cents == 2049  # 2500 / 1.22 = 2049.18
    # ... is a loss: 2941 - 525 - 350 - 510 - 2049 = -493
    assert result.profit_eur_cents == -493
    assert result.roi == Decimal("-0.1927")  # -493 / (2049 + 510) = -0.19265
    assert not result.is_opportunity


def test_buy_in_gb_converts_pence() -> None:
    result = evaluate(buy_quote(Market.GB, 1500), sell_quote(Market.DE, 5000))
    assert result.buy_price_minor == 1500
    assert result.buy_price_eur_cents == 1755  # 1500 p x 1.17 (not 1500 c)
    b = result.breakdown
    assert b.net_buy_eur_cents == 1463  # 1755 / 1.20 = 1462.5 -> 1463
    assert b.net_sell_eur_cents == 4202  # 5000 / 1.19 = 4201.68
    assert b.referral_fee_eur_cents == 750
    assert b.fba_fee_eur_cents == 350
    assert b.shipping_eur_cents == 1010  # 450 + 60 + 500 customs
    # 4202 - 750 - 350 - 1010 - 1463 = 629
    assert result.profit_eur_cents == 629
    assert result.roi == Decimal("0.2543")  # 629 / 2473 = 0.25434
    assert result.margin == Decimal("0.1497")  # 629 / 4202 = 0.14969
    assert result.is_opportunity
    assert result.eur_per_gbp == Decimal("1.17")


def test_sell_in_gb_converts_price_and_fees() -> None:
    result = evaluate(buy_quote(Market.DE, 2000), sell_quote(Market.GB, 3000))
    assert result.sell_price_eur_cents == 3510  # 3000 p x 1.17
    b = result.breakdown
    assert b.net_sell_eur_cents == 2925  # 3510 / 1.20
    assert b.referral_fee_eur_cents == 527  # 15 % x 3510 = 526.5 -> 527
    assert b.fba_fee_eur_cents == 345  # GB XL envelope 295 p x 1.17 = 345.15
    assert b.shipping_eur_cents == 1010
    # 2925 - 527 - 345 - 1010 - 1681 = -638
    assert result.profit_eur_cents == -638


# --- referral fee --------------------------------------------------------------------------


def test_referral_minimum_fee() -> None:
    # 15 % x 150 = 22.5 -> 23 < 30 minimum -> 30.
    result = evaluate(buy_quote(Market.FR, 100), sell_quote(Market.DE, 150))
    assert result.breakdown.referral_fee_eur_cents == 30


def test_referral_rate_from_keepa() -> None:
    # 8 % x 4800 = 384.
    result = evaluate(buy_quote(Market.DE, 2000), sell_quote(Market.FR, 4800, referral_pct=8.0))
    assert result.breakdown.referral_fee_eur_cents == 384
    assert result.referral_fee_rate == Decimal("0.08")


def test_referral_rate_of_buy_quote_is_ignored() -> None:
    result = evaluate(buy_quote(Market.DE, 2000, referral_pct=8.0), sell_quote(Market.FR, 4800))
    assert result.breakdown.referral_fee_eur_cents == 720


# --- FBA fee -------------------------------------------------------------------------------


def test_fba_fee_from_keepa() -> None:
    result = evaluate(buy_quote(Market.DE, 2000), sell_quote(Market.FR, 4800, fba_fee=512))
    assert result.breakdown.fba_fee_eur_cents == 512
    assert result.fba_fee_source == "keepa"
    assert result.fba_fee_estimated is False


def test_fba_fee_from_keepa_in_pence() -> None:
    result = evaluate(buy_quote(Market.DE, 2000), sell_quote(Market.GB, 4000, fba_fee=300))
    assert result.breakdown.fba_fee_eur_cents == 351  # 300 p x 1.17


def test_fba_fee_of_buy_quote_is_ignored() -> None:
    result = evaluate(buy_quote(Market.DE, 2000, fba_fee=999), sell_quote(Market.FR, 4800))
    assert result.breakdown.fba_fee_eur_cents == 425


def test_fba_tier_uses_buy_quote_dimensions_when_sell_has_none() -> None:
    sell = sell_quote(Market.FR, 4800, weight_g=None, dims=None)
    buy = buy_quote(Market.DE, 2000, weight_g=300, dims=(300, 200, 20))
    result = evaluate(buy, sell)
    # 300 g, 30 x 20 x 2 cm: standard envelope (<= 460 g, 33 x 23 x 2.5 cm) = FR 325.
    assert result.breakdown.fba_fee_eur_cents == 325
    assert result.breakdown.shipping_eur_cents == 486  # 450 + 3 x 12
    assert result.fba_fee_source == "size_tier"


def test_fba_tier_with_unknown_dimensions_skips_envelopes() -> None:
    sell = sell_quote(Market.DE, 4800, weight_g=80, dims=None)
    buy = buy_quote(Market.FR, 2000, weight_g=None, dims=None)
    result = evaluate(buy, sell)
    assert result.breakdown.fba_fee_eur_cents == 375  # DE small parcel <= 400 g


def test_fba_fee_without_any_weight_uses_largest_standard_tier() -> None:
    sell = sell_quote(Market.FR, 4800, weight_g=None)
    buy = buy_quote(Market.DE, 2000, weight_g=None)
    result = evaluate(buy, sell)
    assert result.breakdown.fba_fee_eur_cents == 990  # FR standard parcel <= 11.9 kg
    assert result.fba_fee_source == "largest_tier"
    assert result.fba_fee_estimated is True
    # unknown weight ships as 2 kg: 450 + 20 x 12 = 690
    assert result.breakdown.shipping_eur_cents == 690


def test_oversize_item_is_flagged_estimated() -> None:
    sell = sell_quote(Market.DE, 9000, weight_g=20_000, dims=(800, 500, 400))
    result = evaluate(buy_quote(Market.FR, 2000), sell)
    assert result.breakdown.fba_fee_eur_cents == 770
    assert result.fba_fee_estimated is True


# --- shipping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight_g", "route", "expected"),
    [
        (500, Route(Market.DE, Market.FR), 510),  # 450 + 5 x 12
        (501, Route(Market.DE, Market.FR), 522),  # 6 started 100 g
        (1, Route(Market.IT, Market.ES), 462),  # 450 + 1 x 12
        (1000, Route(Market.GB, Market.DE), 1070),  # 450 + 120 + 500
        (1000, Route(Market.DE, Market.GB), 1070),
        (None, Route(Market.DE, Market.FR), 690),  # 2 kg assumed
    ],
)
def test_shipping(weight_g: int | None, route: Route, expected: int) -> None:
    assert shipping_eur_cents(POLICY, weight_g, route) == expected


def test_shipping_per_kg_rounding() -> None:
    # 125 c/kg over 300 g = 37.5 -> 38.
    policy = PricingPolicy(shipping_per_kg_eur_cents=125)
    assert shipping_eur_cents(policy, 300, Route(Market.DE, Market.FR)) == 488


# --- edge cases ----------------------------------------------------------------------------


def test_missing_prices_give_none() -> None:
    no_buy = make_quote(market=Market.DE, buy_box=3000)  # buy box only: no buy price
    no_sell = make_quote(market=Market.FR, amazon=2000)  # Amazon only: no sell price
    assert no_buy.buy_price is None
    assert no_sell.sell_price is None
    assert evaluate_route(no_buy, sell_quote(Market.FR, 4800), POLICY, FX) is None
    assert evaluate_route(buy_quote(Market.DE, 2000), no_sell, POLICY, FX) is None


def test_rejects_mismatched_quotes() -> None:
    de = buy_quote(Market.DE, 2000)
    with pytest.raises(ValueError, match="different ASINs"):
        evaluate_route(de, make_quote("B0OTHERAS1", Market.FR, buy_box=4800), POLICY, FX)
    with pytest.raises(ValueError, match="both DE"):
        evaluate_route(de, sell_quote(Market.DE, 4800), POLICY, FX)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),  # profit 664, roi 0.3031
        ({"min_profit_eur_cents": 664}, True),  # thresholds are inclusive
        ({"min_profit_eur_cents": 665}, False),
        ({"min_roi": Decimal("0.3031")}, True),
        ({"min_roi": Decimal("0.3032")}, False),
    ],
)
def test_thresholds(changes: dict[str, Any], expected: bool) -> None:
    policy = replace(POLICY, **changes)
    result = evaluate(buy_quote(Market.DE, 2000), sell_quote(Market.FR, 4800), policy)
    assert result.is_opportunity is expected


def test_ratio() -> None:
    assert ratio(1, 3) == Decimal("0.3333")
    assert ratio(2, 3) == Decimal("0.6667")
    assert ratio(5, 0) == Decimal(0)
