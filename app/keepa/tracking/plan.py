"""Which watchlist ASINs Keepa pushes, with which thresholds, and what to change at Keepa to
get there (issue 11, part 2). Pure: no I/O, no clock (``now`` comes in).

**Thresholds.** :func:`app.domain.breakeven.tracking_thresholds` of the ASIN's break-even
prices (its quotes of the watchlist entry's markets only): drops to the buy break-even in
buy markets, rises to the sell break-even in sell markets, each in its market's minor units,
on the price types of the policy's ``price_types`` (``regular``: Keepa's ``AMAZON`` and
``NEW``; ``marketplace``: the ones the quote's prices come from).

**One currency per tracking.** Keepa holds one tracking per ASIN and keeps every threshold in
the currency of its ``mainDomainId``. The main market is the first euro market (DE, FR, IT,
ES) that has a threshold, else GB. Every value is sent in the main currency
(``desiredPricesInMainCurrency`` true), so what Keepa returns is exactly what we sent and the
diff compares integers. A threshold of the other currency (in practice GB's, on an ASIN that
also has euro thresholds) is converted with our EUR/GBP rate in force and moved by
``fx_margin`` (2 % by default) to the side that notifies early, rounded that way too: Keepa
converts the GB price with its own rate before comparing, and a rate a little off then
notifies a little early (one re-evaluation) instead of missing a crossing. A GB-only tracking
has GB as its main market and is not converted.

**Budget rule** (:func:`select`). A tracking lowers Keepa's refill rate for as long as it
exists (:func:`app.keepa.tracking.cost.estimated_flow_reduction`: 0.9 tokens per update per
market for the regular price types, 9 for the marketplace ones: ``price_types`` decides which
ours are). Push tracking may take ``flow_share`` of the account's
nominal refill rate (Keepa's ``refillRate`` now plus its ``tokenFlowReduction``: the rate the
plan pays for). Candidates are the watchlist ASINs with at least one threshold, ordered by
watchlist priority (highest first), then by closeness (the smallest relative move of a current
price to its break-even, 0 when a route is open now), then by ASIN; they are taken in that
order while their summed reduction fits. Everything else stays on polling, with the reason.

**Diff** (:func:`diff`). Against Keepa's current trackings: an ASIN chosen and not tracked is
added; tracked with other settings (main market, thresholds, update interval, API channel,
inactive) is updated (an add replaces it); tracked, unchanged, but notified since we last
armed it is re-armed (added again); otherwise unchanged, nothing sent. Our trackings (their
``metaData`` starts with :data:`META_TAG`) of ASINs not chosen (no longer watched, or over
the budget) are removed; a tracking someone else set is never removed (and replaced only when
its ASIN is chosen). The time we armed a tracking is in its ``metaData``
(``arbitrage-tracker armed=<Keepa minute>``); a second sync with nothing changed sends nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Final, Literal

from app.domain.breakeven import (
    TRACKING_PRICE_TYPES,
    Breakeven,
    TrackingPriceTypes,
    TrackingThreshold,
    breakevens,
    tracking_thresholds,
)
from app.domain.detection import Pricing
from app.domain.fx import FxRates
from app.domain.keepa_prices import PriceType
from app.domain.keepa_time import from_keepa_minutes, to_keepa_minutes
from app.domain.markets import Market
from app.domain.money import Currency
from app.domain.policy import DetectionPolicy
from app.domain.quote import MarketQuote
from app.domain.watchlist import WatchlistEntry
from app.keepa.tracking.cost import estimated_flow_reduction
from app.keepa.tracking.creation import MAX_UPDATE_INTERVAL_H, ThresholdValue, TrackingRequest
from app.keepa.tracking.objects import Tracking

__all__ = [
    "META_TAG",
    "BreakevensFn",
    "Candidate",
    "Change",
    "Selection",
    "SyncPlan",
    "TokenBudget",
    "TrackingPolicy",
    "armed_at",
    "candidate",
    "desired_request",
    "diff",
    "main_market",
    "select",
]

#: ``metaData`` of every tracking we set starts with this: the ones sync may remove.
META_TAG: Final = "arbitrage-tracker"
_ARMED: Final = " armed="

#: :func:`app.domain.breakeven.breakevens`, or a function giving the same results (a memo).
BreakevensFn = Callable[
    [Mapping[Market, MarketQuote], DetectionPolicy, Pricing, datetime], dict[Market, Breakeven]
]


@dataclass(frozen=True, slots=True)
class TrackingPolicy:
    """The knobs of push tracking (README: ``KEEPA_TRACKING_*``)."""

    #: Share of the nominal refill rate push tracking may take (0 = push nothing).
    flow_share: float = 0.0
    #: Keepa's ``updateInterval`` of every tracking, in hours (1-25).
    update_interval_h: int = 1
    #: How far a converted threshold is moved to the side that notifies early (0.02 = 2 %).
    fx_margin: Decimal = Decimal("0.02")
    #: Which Keepa price types the thresholds watch (:func:`tracking_thresholds`).
    price_types: TrackingPriceTypes = "regular"

    def __post_init__(self) -> None:
        if not 0 <= self.flow_share <= 1 or math.isnan(self.flow_share):
            raise ValueError(f"flow_share must be between 0 and 1, got {self.flow_share}")
        if not 1 <= self.update_interval_h <= MAX_UPDATE_INTERVAL_H:
            raise ValueError(f"update_interval_h must be 1 to {MAX_UPDATE_INTERVAL_H}")
        if not Decimal(0) <= self.fx_margin < Decimal(1):
            raise ValueError(f"fx_margin must be in [0, 1), got {self.fx_margin}")
        if self.price_types not in TRACKING_PRICE_TYPES:
            raise ValueError(f"price_types must be regular or marketplace, not {self.price_types}")


@dataclass(frozen=True, slots=True)
class TokenBudget:
    """Keepa's token flow now: ``refill_rate`` (tokens per minute, already lowered by every
    tracking of the account) and ``flow_reduction`` (Keepa's ``tokenFlowReduction``)."""

    refill_rate: int
    flow_reduction: float = 0.0

    @property
    def nominal_rate(self) -> float:
        """The refill rate without any tracking: the plan's."""
        return self.refill_rate + self.flow_reduction


@dataclass(frozen=True, slots=True)
class Candidate:
    """One watchlist ASIN's wish for push tracking."""

    asin: str
    priority: int
    #: Smallest relative move of a current price to its break-even (0: a route is open now);
    #: ``inf`` when no current price faces a threshold.
    closeness: float
    #: The tracking it would get; ``None`` when it has no threshold (why: ``reason``).
    request: TrackingRequest | None
    #: Tokens per minute the tracking would take off the refill rate.
    flow: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Selection:
    """What :func:`select` decided."""

    chosen: tuple[Candidate, ...]
    #: ASIN -> why it stays on polling.
    polling: dict[str, str]
    #: Tokens per minute push tracking may take, and what the chosen ones take.
    flow_budget: float
    flow_used: float

    @property
    def requests(self) -> dict[str, TrackingRequest]:
        return {c.asin: c.request for c in self.chosen if c.request is not None}


ChangeKind = Literal["add", "update", "rearm"]


@dataclass(frozen=True, slots=True)
class Change:
    """A tracking to send (``add`` of Keepa: adds or replaces), and why."""

    kind: ChangeKind
    request: TrackingRequest
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """What to change at Keepa; empty when Keepa already mirrors the selection."""

    send: tuple[Change, ...]
    remove: tuple[str, ...]
    unchanged: tuple[str, ...]
    #: Trackings someone else set, of ASINs not chosen: left alone.
    foreign: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.send and not self.remove


def main_market(markets: Iterable[Market]) -> Market:
    """The tracking's main market: the first euro market of ``markets`` in :class:`Market`
    order, else the first (GB)."""
    given = set(markets)
    present = [m for m in Market if m in given]
    if not present:
        raise ValueError("a tracking needs at least one market")
    return next((m for m in present if m.currency is Currency.EUR), present[0])


def _convert(
    value_minor: int,
    source: Currency,
    target: Currency,
    fx: FxRates,
    *,
    drop: bool,
    margin: Decimal,
) -> int:
    """``value_minor`` of ``source`` in ``target`` minor units, moved by ``margin`` and rounded
    to the side that notifies early: up for a drop threshold, down for a rise."""
    if source is target:
        return value_minor
    rate = fx.eur_per(source) / fx.eur_per(target)
    factor = (1 + margin) if drop else (1 - margin)
    exact = Decimal(value_minor) * rate * factor
    return max(0, int(exact.to_integral_value(ROUND_CEILING if drop else ROUND_FLOOR)))


def armed_at(meta_data: str | None) -> datetime | None:
    """When we armed a tracking, from its ``metaData``; ``None`` when it is not ours or says
    nothing."""
    if meta_data is None or not meta_data.startswith(META_TAG):
        return None
    _, sep, value = meta_data.partition(_ARMED)
    try:
        return from_keepa_minutes(int(value.split()[0])) if sep and value else None
    except (ValueError, OverflowError):
        return None


def _meta(now: datetime) -> str:
    return f"{META_TAG}{_ARMED}{to_keepa_minutes(now)}"


def desired_request(
    asin: str,
    thresholds: Sequence[TrackingThreshold],
    fx: FxRates,
    policy: TrackingPolicy,
    now: datetime,
) -> TrackingRequest | None:
    """The tracking of ``thresholds`` (one ASIN's), every value in the main currency (module
    doc); ``None`` without thresholds. Two thresholds of one market and price type in one
    direction (the break-even of Amazon's offer and a third party's on ``NEW``: never, but
    cheap to guard) keep the one that notifies first."""
    if not thresholds:
        return None
    main = main_market(t.market for t in thresholds)
    values: dict[tuple[Market, PriceType, bool], int] = {}
    for t in thresholds:
        value = _convert(
            t.value.amount_minor,
            t.value.currency,
            main.currency,
            fx,
            drop=t.is_drop,
            margin=policy.fx_margin,
        )
        key = (t.market, t.price_type, t.is_drop)
        held = values.get(key)
        values[key] = value if held is None else (max if t.is_drop else min)(held, value)
    return TrackingRequest(
        asin=asin,
        main_market=main,
        thresholds=tuple(
            ThresholdValue(market, price_type, value, is_drop)
            for (market, price_type, is_drop), value in values.items()
        ),
        update_interval_h=policy.update_interval_h,
        desired_prices_in_main_currency=True,
        meta_data=_meta(now),
    )


def _closeness(results: Iterable[Breakeven], quotes: Mapping[Market, MarketQuote]) -> float:
    """The smallest relative move of a current price to its break-even (0 when past it)."""
    best = math.inf
    for result in results:
        quote = quotes[result.market]
        bound = result.buy_max
        if bound is not None and quote.buy_price:
            best = min(best, max(0.0, 1 - bound.price.amount_minor / quote.buy_price))
        sell = result.sell_min
        if sell is not None and quote.sell_price:
            best = min(best, max(0.0, sell.price.amount_minor / quote.sell_price - 1))
    return best


def candidate(
    entry: WatchlistEntry,
    quotes: Mapping[Market, MarketQuote],
    pricing: Pricing,
    detection: DetectionPolicy,
    policy: TrackingPolicy,
    now: datetime,
    *,
    breakevens: BreakevensFn = breakevens,
) -> Candidate:
    """The tracking ``entry``'s ASIN would get, from its quotes of the entry's markets
    (their break-evens by ``breakevens``)."""
    watched = {Market.parse(code) for code in entry.markets}
    mine = {m: q for m, q in quotes.items() if m in watched}
    if len(mine) < 2:
        return Candidate(entry.asin, entry.priority, math.inf, None, 0.0, "quotes in < 2 markets")
    results = breakevens(mine, detection, pricing, now).values()
    thresholds = tracking_thresholds(results, policy.price_types)
    request = desired_request(entry.asin, thresholds, pricing.fx, policy, now)
    if request is None:
        return Candidate(entry.asin, entry.priority, math.inf, None, 0.0, "no price opens a route")
    return Candidate(
        asin=entry.asin,
        priority=entry.priority,
        closeness=_closeness(results, mine),
        request=request,
        flow=estimated_flow_reduction([request]),
    )


def select(
    candidates: Iterable[Candidate], budget: TokenBudget, policy: TrackingPolicy
) -> Selection:
    """The budget rule of the module doc."""
    flow_budget = policy.flow_share * budget.nominal_rate
    ranked = sorted(candidates, key=lambda c: (-c.priority, c.closeness, c.asin))
    chosen: list[Candidate] = []
    polling: dict[str, str] = {}
    used = 0.0
    for c in ranked:
        if c.request is None:
            polling[c.asin] = c.reason
        elif used + c.flow <= flow_budget + 1e-9:
            chosen.append(c)
            used += c.flow
        else:
            polling[c.asin] = (
                f"over the push budget ({used:.2f} of {flow_budget:.2f} tokens/min taken, "
                f"needs {c.flow:.2f})"
            )
    return Selection(tuple(chosen), polling, flow_budget, used)


def _settings_differ(want: TrackingRequest, have: Tracking) -> str:
    """What differs between the tracking we want and Keepa's (``""``: nothing)."""
    if not have.is_active:
        return "inactive"
    if have.main_market is not want.main_market:
        return f"main market {have.main_market.value} -> {want.main_market.value}"
    if have.update_interval_h != want.update_interval_h:
        return f"updateInterval {have.update_interval_h} -> {want.update_interval_h}"
    if not have.notifies_via_api:
        return "API channel off"
    if set(have.notify_if) != set(want.notify_if):
        return "notifyIf"
    if set(have.thresholds) != set(want.thresholds):
        return "thresholds"
    if armed_at(have.meta_data) is None:
        return "not ours"
    return ""


def diff(
    desired: Mapping[str, TrackingRequest],
    current: Mapping[str, Tracking],
) -> SyncPlan:
    """What to send and remove so that Keepa's trackings mirror ``desired`` (module doc)."""
    send: list[Change] = []
    unchanged: list[str] = []
    for asin in sorted(desired):
        want = desired[asin]
        have = current.get(asin)
        if have is None:
            send.append(Change("add", want))
            continue
        differs = _settings_differ(want, have)
        if differs:
            send.append(Change("update", want, differs))
            continue
        armed = armed_at(have.meta_data)
        fired = have.last_notified_at
        if fired is not None and armed is not None and fired >= armed:
            send.append(Change("rearm", want, f"notified at {fired.isoformat()}"))
            continue
        unchanged.append(asin)
    leftover = sorted(set(current) - set(desired))
    ours = tuple(a for a in leftover if (current[a].meta_data or "").startswith(META_TAG))
    foreign = tuple(a for a in leftover if a not in ours)
    return SyncPlan(tuple(send), ours, tuple(unchanged), foreign)
