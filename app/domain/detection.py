"""Opportunity detection: which routes of an ASIN are worth it, and what changed.

All decisions use event time (quotes' ``observed_at`` and the ``now_event_time`` passed
in), never the wall clock, so replaying the input topic reproduces the same events.

State kept per ASIN (in a Faust table by the caller): ``{route key: OpenOpportunity}``.
Transitions for a route, in :func:`diff_opportunities`:

* not open -> opportunity: ``opened``;
* open -> still an opportunity: ``updated`` if the profit moved by at least
  ``policy.material_change_eur_cents`` (and by at least 1 cent) since the last published
  event, else nothing (``last_seen`` still advances);
* open -> no longer an opportunity: ``closed`` with a reason - ``below_threshold`` (evaluated
  but below the thresholds), ``stale_quote`` (a quote is too old relative to the newest
  quote of the ASIN) or ``no_price`` (a quote lost its buy/sell price).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from app.domain.fx import FxRates
from app.domain.markets import ALL_ROUTES, Market, Route
from app.domain.policy import PricingPolicy
from app.domain.pricing import (
    PricedRoute,
    RouteEvaluation,
    evaluate_route,
    net_of_vat,
)
from app.domain.quote import MarketQuote
from app.domain.utc import format_utc, require_utc

__all__ = [
    "CloseReason",
    "Detection",
    "EventType",
    "OpenOpportunity",
    "OpportunityEvent",
    "detect",
    "diff_opportunities",
    "evaluate_all_routes",
    "fresh_quotes",
]

EventType = Literal["opened", "updated", "closed"]
CloseReason = Literal["below_threshold", "stale_quote", "no_price"]

_ROUTE_ORDER = {route.key: i for i, route in enumerate(ALL_ROUTES)}


def fresh_quotes(
    quotes: Mapping[Market, MarketQuote], stale_after: timedelta
) -> dict[Market, MarketQuote]:
    """The quotes at most ``stale_after`` older than the newest quote (event time)."""
    if not quotes:
        return {}
    newest = max(q.observed_at for q in quotes.values())
    return {m: q for m, q in quotes.items() if newest - q.observed_at <= stale_after}


def evaluate_all_routes(
    quotes: Mapping[Market, MarketQuote],
    policy: PricingPolicy,
    fx: FxRates,
    *,
    prune: bool = False,
    keep: Collection[str] = (),
) -> list[RouteEvaluation]:
    """Every route between fresh quotes that has both prices, in :data:`ALL_ROUTES` order.

    With ``prune``, routes that cannot be an opportunity are skipped without a full
    evaluation: an upper bound of their profit (net sell - net buy - minimum referral fee -
    base shipping; the FBA fee is >= 0) is below ``policy.min_profit_eur_cents``. Routes in
    ``keep`` (the open ones, whose close needs figures) are always evaluated.
    """
    fresh = fresh_quotes(quotes, policy.stale_after)
    net_sell: dict[Market, int] = {}
    net_buy: dict[Market, int] = {}
    if prune:
        for market, quote in fresh.items():
            if quote.sell_price is not None:
                gross = fx.to_eur_cents(quote.sell_price, quote.currency)
                net_sell[market] = net_of_vat(gross, market.vat_rate)
            if quote.buy_price is not None:
                gross = fx.to_eur_cents(quote.buy_price, quote.currency)
                net_buy[market] = (
                    net_of_vat(gross, market.vat_rate) if policy.vat_mode == "registered" else gross
                )
        floor = policy.min_profit_eur_cents + policy.min_referral_fee_eur_cents
        floor += policy.shipping_base_eur_cents
    evaluations = []
    for route in ALL_ROUTES:
        if route.buy not in fresh or route.sell not in fresh:
            continue
        if prune and route.key not in keep:
            if route.sell not in net_sell or route.buy not in net_buy:
                continue
            if net_sell[route.sell] - net_buy[route.buy] < floor:
                continue
        evaluation = evaluate_route(fresh[route.buy], fresh[route.sell], policy, fx)
        if evaluation is not None:
            evaluations.append(evaluation)
    return evaluations


@dataclass(frozen=True, slots=True)
class OpenOpportunity:
    """State of one open route.

    ``profit_eur_cents``/``roi`` are the figures of the last PUBLISHED event (``opened`` or
    ``updated``), so slow drifts add up to a material change; ``evaluation`` is the latest
    evaluation (its figures are published if the route closes without a new evaluation).
    """

    route: str
    profit_eur_cents: int
    roi: Decimal
    first_seen: datetime
    last_seen: datetime
    evaluation: RouteEvaluation


@dataclass(frozen=True, slots=True)
class OpportunityEvent(PricedRoute):
    """An ``opened`` / ``updated`` / ``closed`` event of one route of one ASIN."""

    event: EventType
    event_id: str
    event_time: datetime
    first_seen: datetime
    fx_eur_per_gbp: Decimal
    reason: CloseReason | None = None

    @classmethod
    def from_evaluation(
        cls,
        event: EventType,
        evaluation: RouteEvaluation,
        *,
        event_time: datetime,
        first_seen: datetime,
        reason: CloseReason | None = None,
    ) -> OpportunityEvent:
        event_time = require_utc(event_time, "event_time")
        return cls(
            **{f.name: getattr(evaluation, f.name) for f in fields(PricedRoute)},
            event=event,
            event_id=make_event_id(evaluation.asin, evaluation.route_key, event, event_time),
            event_time=event_time,
            first_seen=require_utc(first_seen, "first_seen"),
            fx_eur_per_gbp=evaluation.eur_per_gbp,
            reason=reason,
        )


def make_event_id(asin: str, route_key: str, event: EventType, event_time: datetime) -> str:
    """Deterministic id: SHA-1 hex of ``asin|route|event|event_time`` (replays dedupe)."""
    material = f"{asin}|{route_key}|{event}|{format_utc(event_time)}"
    return hashlib.sha1(material.encode("utf-8"), usedforsecurity=False).hexdigest()


def _absence_reason(
    route_key: str, quotes: Mapping[Market, MarketQuote] | None, stale_after: timedelta
) -> CloseReason:
    """Why an open route got no evaluation: a stale (or missing) quote, else a lost price."""
    if quotes is None:
        return "no_price"
    route = Route.from_key(route_key)
    fresh = fresh_quotes(quotes, stale_after)
    if route.buy not in fresh or route.sell not in fresh:
        return "stale_quote"
    return "no_price"


def _ordered_keys(keys: Iterable[str]) -> list[str]:
    return sorted(set(keys), key=lambda k: (_ROUTE_ORDER.get(k, len(_ROUTE_ORDER)), k))


def diff_opportunities(
    open_: Mapping[str, OpenOpportunity],
    evaluations: Sequence[RouteEvaluation],
    policy: PricingPolicy,
    now_event_time: datetime,
    *,
    quotes: Mapping[Market, MarketQuote] | None = None,
) -> tuple[list[OpportunityEvent], dict[str, OpenOpportunity]]:
    """Compare the open routes with fresh evaluations (see the module doc).

    ``evaluations`` must be all the evaluations of the ASIN (as :func:`evaluate_all_routes`
    returns them): an open route without one is closed. Pass ``quotes`` (the ASIN's quotes)
    to tell ``stale_quote`` from ``no_price`` closes; without it they are ``no_price``.
    Returns the events (in route order) and the new open map; inputs are not modified.
    """
    now = require_utc(now_event_time, "now_event_time")
    by_route = {evaluation.route_key: evaluation for evaluation in evaluations}
    events: list[OpportunityEvent] = []
    new_open: dict[str, OpenOpportunity] = {}

    for key in _ordered_keys([*by_route, *open_]):
        evaluation = by_route.get(key)
        previous = open_.get(key)
        if evaluation is not None and evaluation.is_opportunity:
            if previous is None:
                events.append(
                    OpportunityEvent.from_evaluation(
                        "opened", evaluation, event_time=now, first_seen=now
                    )
                )
                new_open[key] = OpenOpportunity(
                    route=key,
                    profit_eur_cents=evaluation.profit_eur_cents,
                    roi=evaluation.roi,
                    first_seen=now,
                    last_seen=now,
                    evaluation=evaluation,
                )
                continue
            state = replace(previous, last_seen=max(previous.last_seen, now), evaluation=evaluation)
            change = abs(evaluation.profit_eur_cents - previous.profit_eur_cents)
            if change and change >= policy.material_change_eur_cents:
                events.append(
                    OpportunityEvent.from_evaluation(
                        "updated", evaluation, event_time=now, first_seen=previous.first_seen
                    )
                )
                state = replace(
                    state, profit_eur_cents=evaluation.profit_eur_cents, roi=evaluation.roi
                )
            new_open[key] = state
        elif previous is not None:
            if evaluation is not None:
                reason: CloseReason = "below_threshold"
                figures = evaluation
            else:
                reason = _absence_reason(key, quotes, policy.stale_after)
                figures = previous.evaluation
            events.append(
                OpportunityEvent.from_evaluation(
                    "closed",
                    figures,
                    event_time=now,
                    first_seen=previous.first_seen,
                    reason=reason,
                )
            )
    return events, new_open


@dataclass(frozen=True, slots=True)
class Detection:
    """Result of :func:`detect`: the evaluations (routes that cannot be opportunities are
    pruned), the events and the new open map."""

    evaluations: list[RouteEvaluation]
    events: list[OpportunityEvent]
    open: dict[str, OpenOpportunity]


def detect(
    quotes: Mapping[Market, MarketQuote],
    open_: Mapping[str, OpenOpportunity],
    policy: PricingPolicy,
    fx: FxRates,
    now_event_time: datetime,
) -> Detection:
    """:func:`evaluate_all_routes` then :func:`diff_opportunities` (with close reasons)."""
    evaluations = evaluate_all_routes(quotes, policy, fx, prune=True, keep=open_.keys())
    events, new_open = diff_opportunities(open_, evaluations, policy, now_event_time, quotes=quotes)
    return Detection(evaluations=evaluations, events=events, open=new_open)
