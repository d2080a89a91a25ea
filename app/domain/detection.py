"""Opportunity detection: which routes of an ASIN are worth it, and what changed.

Every route is priced by :func:`app.domain.fees.price_route` with the seller profile and the
fee schedule in force (a :class:`Pricing`, read once per event by the caller); a route is an
opportunity when its breakdown fails no threshold of the profile.

All decisions use times carried by the input (quotes' ``observed_at``, the
``now_event_time`` passed in and an optional ``as_of``), never the clock, so replaying the
input with the same profile reproduces the same events. Staleness is judged against a
*reference time*: the newest quote of the ASIN, or ``as_of`` when that is later (see
:func:`fresh_quotes`): the incoming quote's ``fetched_at`` for a Keepa event, the
wall-clock time written into a re-evaluation request by the sweep.

State kept per ASIN (in a Faust table by the caller): ``{route key: OpenOpportunity}``.
Transitions for a route, in :func:`diff_opportunities`:

* not open -> opportunity: ``opened``;
* open -> still an opportunity: ``updated`` if the profit moved by at least
  ``policy.material_change_eur_cents`` (and by at least 1 cent) since the last published
  event, else nothing (``last_seen`` still advances);
* open -> no longer an opportunity: ``closed`` with a reason - ``below_threshold`` (evaluated
  but failing a threshold), ``stale_quote`` (a quote is too old relative to the reference
  time) or ``no_price`` (a quote lost its buy/sell price, or the fee schedule
  has no figure the route needs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from app.domain.fee_schedule import FeeSchedule, FeeScheduleGapError
from app.domain.fees import NetPriceMemo, RouteBreakdown, price_route, profit_upper_bound
from app.domain.fx import FxRates
from app.domain.markets import ALL_ROUTES, Market, OnRoute, Route
from app.domain.policy import DetectionPolicy
from app.domain.profile import SellerProfile
from app.domain.quote import MarketQuote
from app.domain.utc import format_utc, require_utc

__all__ = [
    "CloseReason",
    "Detection",
    "EventType",
    "OpenOpportunity",
    "OpportunityEvent",
    "Pricing",
    "detect",
    "diff_opportunities",
    "evaluate_all_routes",
    "fresh_quotes",
    "reference_time",
]

EventType = Literal["opened", "updated", "closed"]
CloseReason = Literal["below_threshold", "stale_quote", "no_price"]

_ROUTE_ORDER = {route.key: i for i, route in enumerate(ALL_ROUTES)}


@dataclass(frozen=True, slots=True)
class Pricing:
    """What prices the routes of one event: the EUR/GBP rate, the seller profile (and its
    version, carried by the events) and the fee schedule."""

    fx: FxRates
    profile: SellerProfile
    profile_version: str
    schedule: FeeSchedule


def reference_time(
    quotes: Mapping[Market, MarketQuote], as_of: datetime | None = None
) -> datetime | None:
    """What staleness is measured from: the newest ``observed_at`` of ``quotes``, or
    ``as_of`` when that is later (``None`` without quotes and ``as_of``)."""
    times = [q.observed_at for q in quotes.values()]
    if as_of is not None:
        times.append(require_utc(as_of, "as_of"))
    return max(times) if times else None


def fresh_quotes(
    quotes: Mapping[Market, MarketQuote],
    stale_after: timedelta,
    *,
    as_of: datetime | None = None,
) -> dict[Market, MarketQuote]:
    """The quotes at most ``stale_after`` older than the reference time
    (:func:`reference_time`: the newest quote, or ``as_of`` when later).

    ``as_of`` is a time carried by the input, never read from a clock: for a Keepa event the
    incoming quote's ``fetched_at`` (so a quote that was already older than ``stale_after``
    when it was fetched is stale on arrival), for a re-evaluation request the wall-clock time
    the sweep wrote into it."""
    reference = reference_time(quotes, as_of)
    if reference is None:
        return {}
    return {m: q for m, q in quotes.items() if reference - q.observed_at <= stale_after}


def _evaluate(
    quotes: Mapping[Market, MarketQuote],
    policy: DetectionPolicy,
    pricing: Pricing,
    *,
    prune: bool,
    keep: Collection[str],
    as_of: datetime | None = None,
) -> tuple[list[RouteBreakdown], dict[str, str]]:
    fresh = fresh_quotes(quotes, policy.stale_after, as_of=as_of)
    min_profit = pricing.profile.thresholds.min_profit_eur_cents
    evaluations: list[RouteBreakdown] = []
    unpriced: dict[str, str] = {}
    nets: NetPriceMemo = {}  # each quote's net prices, shared by its routes
    for route in ALL_ROUTES:
        buy, sell = fresh.get(route.buy), fresh.get(route.sell)
        if buy is None or sell is None:
            continue
        try:
            if prune and route.key not in keep:
                bound = profit_upper_bound(
                    buy, sell, pricing.fx, pricing.profile, pricing.schedule, memo=nets
                )
                if bound is None or bound < min_profit:
                    continue
            evaluation = price_route(buy, sell, pricing.fx, pricing.profile, pricing.schedule)
        except FeeScheduleGapError as exc:
            unpriced[route.key] = str(exc)
            continue
        if evaluation is not None:
            evaluations.append(evaluation)
    return evaluations, unpriced


def evaluate_all_routes(
    quotes: Mapping[Market, MarketQuote],
    policy: DetectionPolicy,
    pricing: Pricing,
    *,
    prune: bool = False,
    keep: Collection[str] = (),
    as_of: datetime | None = None,
) -> list[RouteBreakdown]:
    """Every route between fresh quotes that has both prices, priced with
    :func:`app.domain.fees.price_route`, in :data:`ALL_ROUTES` order.

    A route the fee schedule cannot price (:class:`FeeScheduleGapError`, e.g. EFN across the
    UK-EU border) has no evaluation (:func:`detect` reports it in ``unpriced``).

    With ``prune``, routes that cannot be an opportunity are skipped without a full
    evaluation: :func:`app.domain.fees.profit_upper_bound` (a true upper bound of the
    profit) is below the profile's ``min_profit_eur_cents``. Routes in ``keep`` (the open
    ones, whose close needs figures) are always evaluated.
    """
    return _evaluate(quotes, policy, pricing, prune=prune, keep=keep, as_of=as_of)[0]


@dataclass(frozen=True, slots=True)
class OpenOpportunity:
    """State of one open route.

    ``profit_eur_cents``/``roi`` are the figures of the last PUBLISHED event (``opened`` or
    ``updated``), so slow drifts add up to a material change; ``evaluation`` is the latest
    breakdown and ``profile_version`` the profile it was computed with (published if the
    route closes without a new evaluation).
    """

    route: str
    profit_eur_cents: int
    roi: Decimal  # display value (4 places) of the last published event
    first_seen: datetime
    last_seen: datetime
    evaluation: RouteBreakdown
    profile_version: str


@dataclass(frozen=True, slots=True)
class OpportunityEvent(OnRoute):
    """An ``opened`` / ``updated`` / ``closed`` event of one route of one ASIN: the route's
    full breakdown and the version of the profile it was computed with."""

    event: EventType
    event_id: str
    event_time: datetime
    first_seen: datetime
    breakdown: RouteBreakdown
    profile_version: str
    reason: CloseReason | None = None
    asin: str = field(init=False)
    buy_market: Market = field(init=False)
    sell_market: Market = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "asin", self.breakdown.asin)
        object.__setattr__(self, "buy_market", self.breakdown.buy_market)
        object.__setattr__(self, "sell_market", self.breakdown.sell_market)

    @property
    def profit_eur_cents(self) -> int:
        return self.breakdown.profit_eur_cents

    @classmethod
    def from_evaluation(
        cls,
        event: EventType,
        evaluation: RouteBreakdown,
        *,
        profile_version: str,
        event_time: datetime,
        first_seen: datetime,
        reason: CloseReason | None = None,
        cause: str | None = None,
    ) -> OpportunityEvent:
        event_time = require_utc(event_time, "event_time")
        return cls(
            event=event,
            event_id=make_event_id(
                evaluation.asin, evaluation.route_key, event, event_time, cause=cause
            ),
            event_time=event_time,
            first_seen=require_utc(first_seen, "first_seen"),
            breakdown=evaluation,
            profile_version=profile_version,
            reason=reason,
        )


def make_event_id(
    asin: str, route_key: str, event: EventType, event_time: datetime, *, cause: str | None = None
) -> str:
    """Deterministic id: SHA-1 hex of ``asin|route|event|event_time`` (replays dedupe), plus
    ``|cause`` for an event of a re-evaluation (its request, e.g. ``wall_clock@<as_of>``):
    re-evaluations keep the ASIN's event time, so without it two closes of the same route
    at the same event time (a profile changed, changed back and changed again) would share
    an id."""
    material = f"{asin}|{route_key}|{event}|{format_utc(event_time)}"
    if cause is not None:
        material = f"{material}|{cause}"
    return hashlib.sha1(material.encode("utf-8"), usedforsecurity=False).hexdigest()


def _absence_reason(
    route_key: str,
    quotes: Mapping[Market, MarketQuote] | None,
    stale_after: timedelta,
    as_of: datetime | None,
) -> CloseReason:
    """Why an open route got no evaluation: a stale (or missing) quote, else a lost price
    (or a route the fee schedule cannot price)."""
    if quotes is None:
        return "no_price"
    route = Route.from_key(route_key)
    fresh = fresh_quotes(quotes, stale_after, as_of=as_of)
    if route.buy not in fresh or route.sell not in fresh:
        return "stale_quote"
    return "no_price"


def _ordered_keys(keys: Iterable[str]) -> list[str]:
    return sorted(set(keys), key=lambda k: (_ROUTE_ORDER.get(k, len(_ROUTE_ORDER)), k))


def diff_opportunities(
    open_: Mapping[str, OpenOpportunity],
    evaluations: Sequence[RouteBreakdown],
    policy: DetectionPolicy,
    profile_version: str,
    now_event_time: datetime,
    *,
    quotes: Mapping[Market, MarketQuote] | None = None,
    as_of: datetime | None = None,
    cause: str | None = None,
) -> tuple[list[OpportunityEvent], dict[str, OpenOpportunity]]:
    """Compare the open routes with fresh evaluations (see the module doc).

    ``evaluations`` must be all the evaluations of the ASIN (as :func:`evaluate_all_routes`
    returns them), computed with the profile of ``profile_version`` and the same ``as_of``:
    an open route without one is closed. Pass ``quotes`` (the ASIN's quotes) to tell
    ``stale_quote`` from ``no_price`` closes; without it they are ``no_price``. ``cause``
    goes into the events' ids (:func:`make_event_id`). Returns the events (in route order)
    and the new open map; inputs are not modified.
    """
    now = require_utc(now_event_time, "now_event_time")
    by_route = {evaluation.route_key: evaluation for evaluation in evaluations}
    events: list[OpportunityEvent] = []
    new_open: dict[str, OpenOpportunity] = {}

    def event(
        kind: EventType,
        figures: RouteBreakdown,
        first_seen: datetime,
        *,
        version: str = profile_version,
        reason: CloseReason | None = None,
    ) -> None:
        events.append(
            OpportunityEvent.from_evaluation(
                kind,
                figures,
                profile_version=version,
                event_time=now,
                first_seen=first_seen,
                reason=reason,
                cause=cause,
            )
        )

    for key in _ordered_keys([*by_route, *open_]):
        evaluation = by_route.get(key)
        previous = open_.get(key)
        if evaluation is not None and evaluation.is_opportunity:
            if previous is None:
                event("opened", evaluation, now)
                new_open[key] = OpenOpportunity(
                    route=key,
                    profit_eur_cents=evaluation.profit_eur_cents,
                    roi=evaluation.roi_display,
                    first_seen=now,
                    last_seen=now,
                    evaluation=evaluation,
                    profile_version=profile_version,
                )
                continue
            state = replace(
                previous,
                last_seen=max(previous.last_seen, now),
                evaluation=evaluation,
                profile_version=profile_version,
            )
            change = abs(evaluation.profit_eur_cents - previous.profit_eur_cents)
            if change and change >= policy.material_change_eur_cents:
                event("updated", evaluation, previous.first_seen)
                state = replace(
                    state, profit_eur_cents=evaluation.profit_eur_cents, roi=evaluation.roi_display
                )
            new_open[key] = state
        elif previous is not None:
            if evaluation is not None:
                event("closed", evaluation, previous.first_seen, reason="below_threshold")
            else:
                event(
                    "closed",
                    previous.evaluation,
                    previous.first_seen,
                    version=previous.profile_version,
                    reason=_absence_reason(key, quotes, policy.stale_after, as_of),
                )
    return events, new_open


@dataclass(frozen=True, slots=True)
class Detection:
    """Result of :func:`detect`: the evaluations (routes that cannot be opportunities are
    pruned), the events, the new open map and the routes the fee schedule could not price
    (route key -> why)."""

    evaluations: list[RouteBreakdown]
    events: list[OpportunityEvent]
    open: dict[str, OpenOpportunity]
    unpriced: dict[str, str]


def detect(
    quotes: Mapping[Market, MarketQuote],
    open_: Mapping[str, OpenOpportunity],
    policy: DetectionPolicy,
    pricing: Pricing,
    now_event_time: datetime,
    *,
    as_of: datetime | None = None,
    cause: str | None = None,
) -> Detection:
    """:func:`evaluate_all_routes` (pruned) then :func:`diff_opportunities` (with close
    reasons); ``as_of`` and ``cause`` as there."""
    evaluations, unpriced = _evaluate(
        quotes, policy, pricing, prune=True, keep=open_.keys(), as_of=as_of
    )
    events, new_open = diff_opportunities(
        open_,
        evaluations,
        policy,
        pricing.profile_version,
        now_event_time,
        quotes=quotes,
        as_of=as_of,
        cause=cause,
    )
    return Detection(evaluations=evaluations, events=events, open=new_open, unpriced=unpriced)
