"""Pure estimates that feed the scheduler: how close an ASIN is to an opportunity, and how
volatile its prices are. Used by :mod:`app.ingest.signals` (on documents read from
Elasticsearch) and by the scheduling simulation (on simulated quotes), so both see the same
numbers.

**Required move** of a route: by how much (as a fraction) the sell price would have to rise,
all else equal, for the route to pass both thresholds of the pricing policy. With the route's
breakdown (net sell ``N``, referral fee ``R``, FBA fee ``F``, shipping ``S``, net buy ``B``;
``N`` and ``R`` scale with the sell price) the profit at ``k`` x the sell price is
``k (N - R) - F - S - B``, so::

    k >= (min_profit + F + S + B) / (N - R)             (profit threshold)
    k >= ((1 + min_roi) (B + S) + F) / (N - R)          (ROI threshold)

and the required move is ``k - 1`` (<= 0: it is an opportunity now). Unlike the profit gap
in cents it is comparable across price levels: a EUR 8 item whose fees eat the margin needs
a move no real spread gives (it is never worth refreshing often), a EUR 150 item 20 % below
the threshold is close.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.domain.detection import evaluate_all_routes
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import PricingPolicy
from app.domain.pricing import RouteEvaluation
from app.domain.quote import MarketQuote

__all__ = [
    "Outlook",
    "outlook",
    "relative_volatility",
    "required_move",
]


@dataclass(frozen=True, slots=True)
class Outlook:
    """The best route of an ASIN given its current quotes (``None``: no route has prices)."""

    best_profit_eur_cents: int | None
    required_move: float | None
    #: Markets of the routes that are opportunities now.
    opportunity_markets: frozenset[str]


def required_move(evaluation: RouteEvaluation, policy: PricingPolicy) -> float:
    """The relative sell-price rise the route needs to pass both thresholds (see module doc);
    ``inf`` when no rise is enough (the fees grow as fast as the price)."""
    b = evaluation.breakdown
    margin = b.net_sell_eur_cents - b.referral_fee_eur_cents
    if margin <= 0:
        return math.inf
    fixed = b.fba_fee_eur_cents + b.shipping_eur_cents + b.net_buy_eur_cents
    by_profit = (policy.min_profit_eur_cents + fixed) / margin
    by_roi = (
        float(1 + policy.min_roi) * (b.net_buy_eur_cents + b.shipping_eur_cents)
        + b.fba_fee_eur_cents
    ) / margin
    return max(by_profit, by_roi) - 1.0


def outlook(quotes: Mapping[Market, MarketQuote], policy: PricingPolicy, fx: FxRates) -> Outlook:
    """Best profit and smallest required move over every route of the (fresh) quotes."""
    evaluations = evaluate_all_routes(quotes, policy, fx)
    if not evaluations:
        return Outlook(None, None, frozenset())
    best = max(e.profit_eur_cents for e in evaluations)
    move = min(required_move(e, policy) for e in evaluations)
    markets = frozenset(
        m.value for e in evaluations if e.is_opportunity for m in (e.buy_market, e.sell_market)
    )
    return Outlook(best, move, markets)


def relative_volatility(prices: Iterable[float]) -> float:
    """Population standard deviation / mean of a price series (0.0 for < 2 prices)."""
    values = [float(p) for p in prices if p is not None and p > 0]
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    return math.sqrt(variance) / mean
