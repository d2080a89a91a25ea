"""Net profit of buying an ASIN on one marketplace and selling it on another.

Everything is computed in EUR cents (ints); each step rounds half-up to the cent:

1. gross prices are converted to EUR (:meth:`FxRates.to_eur_cents`);
2. ``net_sell = sell / (1 + VAT(sell market))`` - the sale's output VAT goes to the state;
3. ``net_buy = buy / (1 + VAT(buy market))`` in ``registered`` VAT mode (input VAT is
   recovered), or the gross buy price in ``unrecoverable`` mode (VAT is a cost);
4. ``referral = max(rate x gross sell price, minimum)``, rate = the sell quote's
   ``referral_fee_rate`` or the policy default;
5. ``fba`` = the sell quote's Keepa FBA fee, else the size-tier estimate of the sell
   market's fee card from the weight/dimensions of the sell quote (falling back to the buy
   quote's);
6. ``shipping = base + per_kg x weight`` (weight rounded up to the started 100 g),
   plus the customs flat fee when GB is on either side;
7. ``profit = net_sell - referral - fba - shipping - net_buy``;
   ``roi = profit / (net_buy + shipping)`` and ``margin = profit / net_sell``, both Decimal
   rounded half-up to 4 places.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from app.domain.fba import FbaFeeSource, match_fba_tier
from app.domain.fx import FxRates
from app.domain.markets import Market, OnRoute, Route
from app.domain.money import round_half_up
from app.domain.policy import PricingPolicy, VatMode
from app.domain.quote import MarketQuote

__all__ = [
    "CostBreakdown",
    "PricedRoute",
    "RouteEvaluation",
    "evaluate_route",
    "fba_fee_eur_cents",
    "net_of_vat",
    "ratio",
    "shipping_eur_cents",
]

_RATIO_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """The components of a route's profit, EUR cents."""

    net_sell_eur_cents: int
    referral_fee_eur_cents: int
    fba_fee_eur_cents: int
    shipping_eur_cents: int
    net_buy_eur_cents: int
    vat_sell_eur_cents: int  # output VAT contained in the sell price
    vat_buy_eur_cents: int  # VAT contained in the buy price (a cost only if unrecoverable)


@dataclass(frozen=True, slots=True)
class PricedRoute(OnRoute):
    """What every record of one priced route of one ASIN holds (:class:`RouteEvaluation`,
    :class:`app.domain.detection.OpportunityEvent`): the route, its prices, the cost breakdown
    and the profit."""

    asin: str
    title: str | None
    buy_market: Market
    sell_market: Market
    buy_price_minor: int  # gross, in the buy market's currency
    sell_price_minor: int  # gross, in the sell market's currency
    buy_price_eur_cents: int  # gross, converted
    sell_price_eur_cents: int  # gross, converted
    breakdown: CostBreakdown
    profit_eur_cents: int
    roi: Decimal
    margin: Decimal
    referral_fee_rate: Decimal
    fba_fee_estimated: bool  # True when no weight was known or no tier fits (a guess)
    buy_observed_at: datetime
    sell_observed_at: datetime


@dataclass(frozen=True, slots=True)
class RouteEvaluation(PricedRoute):
    """The profit of one route (buy market -> sell market) for one ASIN."""

    fba_fee_source: FbaFeeSource
    eur_per_gbp: Decimal
    vat_mode: VatMode
    is_opportunity: bool


def net_of_vat(gross_cents: int, vat_rate: Decimal) -> int:
    """``gross / (1 + rate)`` rounded half-up: 11900 at 19 % -> 10000."""
    return round_half_up(Decimal(gross_cents) / (1 + vat_rate))


def ratio(numerator: int, denominator: int) -> Decimal:
    """``numerator / denominator`` rounded half-up to 4 places; 0 if the denominator <= 0."""
    if denominator <= 0:
        return Decimal("0.0000")
    return (Decimal(numerator) / Decimal(denominator)).quantize(
        _RATIO_PLACES, rounding=ROUND_HALF_UP
    )


def shipping_eur_cents(policy: PricingPolicy, weight_g: int | None, route: Route) -> int:
    """Cost of moving one unit from the buy to the sell market, EUR cents.

    ``base + per_kg x started 100 g / 10`` (+ GB customs); an unknown weight uses
    ``policy.shipping_unknown_weight_g``. With the defaults, 500 g DE->FR = 450 + 5 x 12 = 510.
    """
    weight = weight_g if weight_g is not None else policy.shipping_unknown_weight_g
    started_100g = -(-weight // 100)  # ceiling division
    cost = policy.shipping_base_eur_cents + round_half_up(
        Decimal(policy.shipping_per_kg_eur_cents) * started_100g / 10
    )
    if route.involves_gb:
        cost += policy.gb_customs_eur_cents
    return cost


def fba_fee_eur_cents(
    buy: MarketQuote, sell: MarketQuote, policy: PricingPolicy, fx: FxRates
) -> tuple[int, FbaFeeSource]:
    """FBA fulfilment fee on the sell market, EUR cents, and where it came from."""
    if sell.fba_fee is not None:
        return fx.to_eur_cents(sell.fba_fee, sell.currency), "keepa"
    weight = sell.package_weight_g if sell.package_weight_g is not None else buy.package_weight_g
    dims = sell.package_dims_mm or buy.package_dims_mm
    match = match_fba_tier(policy.fba_tiers_for(sell.market), weight, dims)
    return fx.to_eur_cents(match.tier.fee_minor, sell.currency), match.source


def evaluate_route(
    buy: MarketQuote, sell: MarketQuote, policy: PricingPolicy, fx: FxRates
) -> RouteEvaluation | None:
    """Profit of buying at ``buy.buy_price`` and selling at ``sell.sell_price``.

    None when either price is missing. Raises ``ValueError`` for quotes of different ASINs
    or of the same market.
    """
    if buy.asin != sell.asin:
        raise ValueError(f"quotes of different ASINs: {buy.asin} / {sell.asin}")
    if buy.market is sell.market:
        raise ValueError(f"buy and sell market are both {buy.market.value}")
    if buy.buy_price is None or sell.sell_price is None:
        return None

    buy_gross = fx.to_eur_cents(buy.buy_price, buy.currency)
    sell_gross = fx.to_eur_cents(sell.sell_price, sell.currency)

    net_sell = net_of_vat(sell_gross, sell.market.vat_rate)
    buy_ex_vat = net_of_vat(buy_gross, buy.market.vat_rate)
    net_buy = buy_ex_vat if policy.vat_mode == "registered" else buy_gross

    rate = (
        sell.referral_fee_rate
        if sell.referral_fee_rate is not None
        else policy.default_referral_rate
    )
    referral = max(round_half_up(Decimal(sell_gross) * rate), policy.min_referral_fee_eur_cents)
    fba, fba_source = fba_fee_eur_cents(buy, sell, policy, fx)
    weight = sell.package_weight_g if sell.package_weight_g is not None else buy.package_weight_g
    route = Route(buy.market, sell.market)
    shipping = shipping_eur_cents(policy, weight, route)

    profit = net_sell - referral - fba - shipping - net_buy
    roi = ratio(profit, net_buy + shipping)
    return RouteEvaluation(
        asin=buy.asin,
        title=sell.title or buy.title,
        buy_market=buy.market,
        sell_market=sell.market,
        buy_price_minor=buy.buy_price,
        sell_price_minor=sell.sell_price,
        buy_price_eur_cents=buy_gross,
        sell_price_eur_cents=sell_gross,
        breakdown=CostBreakdown(
            net_sell_eur_cents=net_sell,
            referral_fee_eur_cents=referral,
            fba_fee_eur_cents=fba,
            shipping_eur_cents=shipping,
            net_buy_eur_cents=net_buy,
            vat_sell_eur_cents=sell_gross - net_sell,
            vat_buy_eur_cents=buy_gross - buy_ex_vat,
        ),
        referral_fee_rate=rate,
        fba_fee_source=fba_source,
        fba_fee_estimated=fba_source == "largest_tier",
        profit_eur_cents=profit,
        roi=roi,
        margin=ratio(profit, net_sell),
        buy_observed_at=buy.observed_at,
        sell_observed_at=sell.observed_at,
        eur_per_gbp=fx.eur_per_gbp,
        vat_mode=policy.vat_mode,
        is_opportunity=profit >= policy.min_profit_eur_cents and roi >= policy.min_roi,
    )
