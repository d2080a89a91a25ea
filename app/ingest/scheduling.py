"""Adaptive fetch scheduling (pure): which ASINs to refresh on which market, within a budget.

Every (ASIN, market) pair gets a refresh interval from its ASIN's signals; it is *due* when
its last fetch is at least that old. Due pairs are ranked by urgency (how overdue x how
valuable) and taken until the token budget of the run is spent; leftover tokens go to the
pairs closest to being due. The policy and its knobs are explained in ``docs/scheduling.md``.

Requested pairs come before all of them: a Keepa notification for a market of which the
worker holds no quote asks for a normal fetch (``keepa.fetch_requests``,
:mod:`app.ingest.fetch_requests`), which the next run makes first, within its budget.

:func:`round_robin_plan` is the baseline the simulation (``bench/scheduling_sim.py``)
compares against: whole ASINs, least recently fetched first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from app.domain.watchlist import WatchlistEntry

__all__ = [
    "AsinSignals",
    "FetchPlan",
    "SchedulingPolicy",
    "Tier",
    "classify",
    "plan_fetches",
    "refresh_interval",
    "round_robin_plan",
]

Tier = Literal["requested", "hot", "recent", "near", "far", "unknown", "new"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class AsinSignals:
    """What the scheduler knows about one ASIN (see :func:`app.ingest.signals.load_signals`).

    ``best_profit_eur_cents``: profit of its best route now (negative when no route pays);
    ``open_opportunities``: its routes currently open; ``last_opportunity_at``: when one of
    its routes was last an opportunity; ``volatility``: relative standard deviation of its
    recent prices (0.05 = 5 %); ``last_fetched_at``: per market, when it was last fetched;
    ``required_move``: the relative sell-price rise its best route needs to become an
    opportunity (:func:`app.ingest.estimates.required_move`; <= 0: it is one now);
    ``open_markets``: the markets of its open routes.
    """

    asin: str
    best_profit_eur_cents: int | None = None
    open_opportunities: int = 0
    last_opportunity_at: datetime | None = None
    volatility: float = 0.0
    last_fetched_at: dict[str, datetime] = field(default_factory=dict)
    required_move: float | None = None
    open_markets: frozenset[str] = frozenset()


@dataclass
class FetchPlan:
    """ASINs to fetch per market (most urgent first), the tokens that costs, and per ASIN a
    short human-readable reason (tier, interval, how overdue)."""

    by_market: dict[str, list[str]]
    tokens: int
    reasons: dict[str, str]

    @property
    def fetches(self) -> int:
        """Number of (ASIN, market) fetches in the plan."""
        return sum(len(asins) for asins in self.by_market.values())


@dataclass(frozen=True)
class SchedulingPolicy:
    """Knobs of the adaptive policy (see docs/scheduling.md for their meaning and defaults)."""

    #: Markets of a route that is open now (a price move there closes or changes it).
    hot_interval: timedelta = timedelta(minutes=15)
    #: Other markets of an ASIN with an open route, or one that was an opportunity within
    #: ``recent_window`` (opportunities recur on the same ASINs).
    recent_interval: timedelta = timedelta(minutes=30)
    recent_window: timedelta = timedelta(hours=24)
    #: Required move at or below ``near_move`` -> ``near_interval``; at or above
    #: ``far_move`` -> ``far_interval``; log-linear in between. Unreachable (``inf``):
    #: ``max_interval``.
    near_move: float = 0.15
    near_interval: timedelta = timedelta(minutes=30)
    far_move: float = 0.8
    far_interval: timedelta = timedelta(hours=12)
    #: Fetched, but no route could be evaluated (a missing price): check again soonish.
    unknown_interval: timedelta = timedelta(hours=2)
    #: Relative price volatility that halves the interval (and 2x that divides it by 3).
    volatility_ref: float = 0.05
    #: Each priority point (0-10) divides the interval by (1 + priority_step).
    priority_step: float = 0.15
    min_interval: timedelta = timedelta(minutes=15)
    max_interval: timedelta = timedelta(hours=24)
    #: A pair is due this much before its interval has passed (runs are not exactly periodic).
    due_tolerance: timedelta = timedelta(minutes=2)
    #: Urgency weight of each tier (urgency = overdue ratio x weight x priority factor).
    hot_weight: float = 8.0
    recent_weight: float = 4.0
    near_weight: float = 2.0
    new_weight: float = 3.0
    other_weight: float = 1.0
    #: Overdue ratio of a never fetched pair.
    new_overdue: float = 4.0
    #: Spend leftover tokens on pairs that are not due yet, most overdue first, if at
    #: least ``fill_min_ratio`` of their interval has passed (Keepa tokens expire unused).
    fill_budget: bool = True
    fill_min_ratio: float = 0.25

    def __post_init__(self) -> None:
        if not self.min_interval <= self.max_interval:
            raise ValueError("min_interval must be <= max_interval")
        if not 0 <= self.near_move < self.far_move:
            raise ValueError("expected 0 <= near_move < far_move")
        if self.volatility_ref <= 0 or self.priority_step < 0:
            raise ValueError("volatility_ref must be > 0 and priority_step >= 0")


def classify(
    signals: AsinSignals | None, market: str, now: datetime, policy: SchedulingPolicy
) -> tuple[Tier, timedelta]:
    """The tier of one (ASIN, market) pair and its base interval (before volatility and
    priority), see :func:`refresh_interval`."""
    if signals is None or market not in signals.last_fetched_at:
        return "new", timedelta(0)
    if market in signals.open_markets:
        return "hot", policy.hot_interval
    return _asin_tier(signals, now, policy)


def _asin_tier(
    signals: AsinSignals, now: datetime, policy: SchedulingPolicy
) -> tuple[Tier, timedelta]:
    """Tier and base interval of the ASIN's markets that are not in an open route."""
    recent = signals.last_opportunity_at is not None and (
        now - signals.last_opportunity_at <= policy.recent_window
    )
    if signals.open_opportunities > 0 or recent:
        return "recent", policy.recent_interval
    move = signals.required_move
    if move is None:
        return "unknown", policy.unknown_interval
    if move <= policy.near_move:
        return "near", policy.near_interval
    if math.isinf(move):
        return "far", policy.max_interval
    if move >= policy.far_move:
        return "far", policy.far_interval
    share = (move - policy.near_move) / (policy.far_move - policy.near_move)
    scale = policy.far_interval / policy.near_interval
    return "near" if share < 0.5 else "far", policy.near_interval * scale**share


def _divisor(signals: AsinSignals, priority: int, policy: SchedulingPolicy) -> float:
    volatility = max(0.0, signals.volatility)
    return (1.0 + volatility / policy.volatility_ref) * (1.0 + policy.priority_step) ** max(
        0, priority
    )


def _clamp(interval: timedelta, policy: SchedulingPolicy) -> timedelta:
    return min(max(interval, policy.min_interval), policy.max_interval)


def refresh_interval(
    signals: AsinSignals | None,
    market: str,
    priority: int,
    now: datetime,
    policy: SchedulingPolicy,
) -> tuple[Tier, timedelta]:
    """Tier and refresh interval of one (ASIN, market) pair: the tier's base interval,
    divided by ``1 + volatility / volatility_ref`` and by ``(1 + priority_step) ** priority``,
    clamped to ``[min_interval, max_interval]`` (``new`` pairs: 0, due at once)."""
    tier, base = classify(signals, market, now, policy)
    if tier == "new" or signals is None:
        return tier, base
    return tier, _clamp(base / _divisor(signals, priority, policy), policy)


@dataclass(frozen=True, slots=True)
class _Candidate:
    urgency: float
    overdue: float
    asin: str
    market: str
    order: int
    tier: Tier
    interval: timedelta

    @property
    def reason(self) -> str:
        if self.tier == "requested":
            return "requested (a Keepa notification without a quote)"
        return f"{self.tier}, every {_fmt(self.interval)}, {self.overdue:.1f}x overdue"


def plan_fetches(
    entries: Sequence[WatchlistEntry],
    signals: Mapping[str, AsinSignals],
    now: datetime,
    token_budget: int,
    *,
    tokens_per_asin: int = 1,
    policy: SchedulingPolicy = SchedulingPolicy(),
    requested: Sequence[tuple[str, str]] = (),
) -> FetchPlan:
    """Adaptive plan: the ``requested`` (ASIN, market) pairs first, in their order (a fetch
    request: :mod:`app.ingest.fetch_requests`; watched or not), then due pairs ranked by
    urgency until the token budget is spent, then (``policy.fill_budget``) the pairs closest
    to being due. A pair is planned once.

    ``tokens_per_asin`` is the cost of one ASIN in one market (1 for a plain product query
    with stats; more with offers or the buy box).
    """
    if tokens_per_asin < 1:
        raise ValueError("tokens_per_asin must be >= 1")
    first = [
        _Candidate(math.inf, math.inf, asin, market, order, "requested", timedelta(0))
        for order, (asin, market) in enumerate(dict.fromkeys(requested))
    ]
    taken = {(c.asin, c.market) for c in first}
    due: list[_Candidate] = []
    early: list[_Candidate] = []
    tolerance = policy.due_tolerance
    for order, entry in enumerate(entries):
        asin_signals = signals.get(entry.asin)
        priority_factor = (1.0 + policy.priority_step) ** max(0, entry.priority)
        if asin_signals is not None:
            divisor = _divisor(asin_signals, entry.priority, policy)
            asin_tier, asin_base = _asin_tier(asin_signals, now, policy)
            asin_interval = _clamp(asin_base / divisor, policy)
            hot_interval = _clamp(policy.hot_interval / divisor, policy)
        for market in entry.markets:
            if (entry.asin, market) in taken:
                continue
            last = None if asin_signals is None else asin_signals.last_fetched_at.get(market)
            if last is None or asin_signals is None:
                tier: Tier = "new"
                interval = timedelta(0)
                overdue = policy.new_overdue
            else:
                if market in asin_signals.open_markets:
                    tier, interval = "hot", hot_interval
                else:
                    tier, interval = asin_tier, asin_interval
                overdue = (now - last + tolerance) / interval
            if overdue >= 1.0:
                urgency = overdue * _weight(tier, policy) * priority_factor
                due.append(_Candidate(urgency, overdue, entry.asin, market, order, tier, interval))
            elif policy.fill_budget and overdue >= policy.fill_min_ratio:
                early.append(_Candidate(0.0, overdue, entry.asin, market, order, tier, interval))
    due.sort(key=lambda c: (-c.urgency, c.order, c.market))
    early.sort(key=lambda c: (-c.overdue, c.order, c.market))
    return _take(first + due + early, token_budget, tokens_per_asin)


def round_robin_plan(
    entries: Sequence[WatchlistEntry],
    signals: Mapping[str, AsinSignals],
    now: datetime,
    token_budget: int,
    *,
    tokens_per_asin: int = 1,
    policy: SchedulingPolicy = SchedulingPolicy(),
) -> FetchPlan:
    """Baseline: whole ASINs (every market of the entry), least recently fetched first
    (never fetched first, then watchlist order), until the budget is spent. ``policy`` is
    accepted for signature compatibility and ignored."""
    if tokens_per_asin < 1:
        raise ValueError("tokens_per_asin must be >= 1")

    def last_fetch(entry: WatchlistEntry) -> datetime:
        fetched = signals.get(entry.asin)
        if fetched is None or any(m not in fetched.last_fetched_at for m in entry.markets):
            return _EPOCH
        return min(fetched.last_fetched_at[m] for m in entry.markets)

    ordered = sorted(enumerate(entries), key=lambda item: (last_fetch(item[1]), item[0]))
    by_market: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    tokens = 0
    for _, entry in ordered:
        cost = len(entry.markets) * tokens_per_asin
        if tokens + cost > token_budget:
            continue
        tokens += cost
        for market in entry.markets:
            by_market.setdefault(market, []).append(entry.asin)
        last = last_fetch(entry)
        reasons[entry.asin] = (
            "round robin, never fetched"
            if last == _EPOCH
            else f"round robin, last fetched {_fmt(now - last)} ago"
        )
    return FetchPlan(by_market=by_market, tokens=tokens, reasons=reasons)


def _take(candidates: Sequence[_Candidate], token_budget: int, cost: int) -> FetchPlan:
    by_market: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    tokens = 0
    for candidate in candidates:
        if tokens + cost > token_budget:
            break
        tokens += cost
        by_market.setdefault(candidate.market, []).append(candidate.asin)
        reasons.setdefault(candidate.asin, candidate.reason)
    return FetchPlan(by_market=by_market, tokens=tokens, reasons=reasons)


def _weight(tier: Tier, policy: SchedulingPolicy) -> float:
    match tier:
        case "hot":
            return policy.hot_weight
        case "recent":
            return policy.recent_weight
        case "near":
            return policy.near_weight
        case "new":
            return policy.new_weight
        case _:
            return policy.other_weight


def _fmt(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes}m"
    return f"{minutes / 60:.1f}h"
