"""Pure estimates that feed the scheduler: how close an ASIN is to an opportunity, and how
volatile its prices are. Used by :mod:`app.ingest.signals` (on documents read from
Elasticsearch) and by the scheduling simulation (on simulated quotes), so both see the same
numbers.

**Required move** of a route: by how much (as a fraction) the sell price would have to rise,
all else equal, for the route to pass both money thresholds of the seller profile. From the
route's breakdown (:func:`app.domain.fees.price_route`): net sell ``N``; the cost lines that
grow with the sell price ``V`` (referral, Digital Services Fee, VAT on fees when a cost,
returns allowance, the currency conversion of the payout); every other cost line ``F``
(fulfilment, shipping, customs, duty, prep, purchase VAT when a cost...); net buy ``B`` and
the investment ``I``. The profit at ``k`` x the sell price is about ``k (N - V) - F - B``
(a referral minimum, a price tier or the Digital Services Fee on the FBA fee do not scale:
an estimate, good enough to schedule refreshes), so::

    k >= (min_profit + F + B) / (N - V)                 (profit threshold)
    k >= (min_roi x I + F + B) / (N - V)                (ROI threshold)

and the required move is ``k - 1`` (<= 0: it is an opportunity now). Unlike the profit gap
in cents it is comparable across price levels: a EUR 8 item whose fees eat the margin needs
a move no real spread gives (it is never worth refreshing often), a EUR 150 item 20 % below
the threshold is close.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.domain.detection import Pricing, evaluate_all_routes
from app.domain.fees import FeeLine, LineKind, RouteBreakdown
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import Thresholds
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


#: Cost lines that grow with the sell price (the fx fee only on the payout: sell currency).
_SCALING: frozenset[LineKind] = frozenset(
    {"referral", "digital_services_fee", "fee_vat", "returns_allowance"}
)


def _scales(line: FeeLine, evaluation: RouteBreakdown) -> bool:
    if line.kind == "fx_fee":
        return line.currency is evaluation.sell_market.currency
    return line.kind in _SCALING


def required_move(evaluation: RouteBreakdown, thresholds: Thresholds) -> float:
    """The relative sell-price rise the route needs to pass both money thresholds (see the
    module doc); ``inf`` when no rise is enough (the fees grow as fast as the price)."""
    scaling = sum(line.eur_cents for line in evaluation.cost_lines if _scales(line, evaluation))
    margin = evaluation.net_sell_eur_cents - scaling
    if margin <= 0:
        return math.inf
    fixed = evaluation.total_costs_eur_cents - scaling + evaluation.net_buy_eur_cents
    by_profit = (thresholds.min_profit_eur_cents + fixed) / margin
    by_roi = (float(thresholds.min_roi) * evaluation.investment_eur_cents + fixed) / margin
    return max(by_profit, by_roi) - 1.0


def outlook(
    quotes: Mapping[Market, MarketQuote], policy: DetectionPolicy, pricing: Pricing
) -> Outlook:
    """Best profit and smallest required move over every route of the (fresh) quotes."""
    evaluations = evaluate_all_routes(quotes, policy, pricing)
    if not evaluations:
        return Outlook(None, None, frozenset())
    best = max(e.profit_eur_cents for e in evaluations)
    thresholds = pricing.profile.thresholds
    move = min(required_move(e, thresholds) for e in evaluations)
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
