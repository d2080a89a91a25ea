"""How long spreads last: the lifetimes of a route's past openings ("episodes").

An *episode* is one opening of one route of one ASIN: from its ``opened`` event
(``first_seen``) to its ``closed`` event (``event_time``), both in event time. An episode not
closed yet is *censored*: we know only that it has lasted at least ``until - opened_at``.

Figures, all computed from event time (never the clock; ``until`` is passed in):

- **median / p90** of the lifetimes of the *closed* episodes, by the nearest-rank method: the
  value at rank ``ceil(p x n)`` of the sorted lifetimes (1-based). No interpolation, so every
  figure is a lifetime that was actually observed (docs/signals.md, "Lifetime history").
- **reopened / reopen rate:** a closed episode counts as reopened when the same route opened
  again later (a later episode of the same ``route_id`` exists, closed or open); the rate is
  ``reopened / closed``.
- **surviving(h):** the share of spreads still open ``h`` after they opened, by the
  Kaplan-Meier product-limit estimator, so the episodes still open (censored) count for as
  long as they have been observed rather than being dropped or counted as closed. Unknown
  (``None``) when no episode was observed for ``h`` (the estimate would be an extrapolation).

This module is pure (no I/O, no clock). The API uses it for one route's history; the backtest
(``arbitrage backtest``) for its per market pair and category report.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Final, TypeVar

from app.domain.utc import require_utc

__all__ = [
    "DEFAULT_HORIZONS",
    "MEDIAN",
    "MIN_CLOSED_FOR_USUAL",
    "P90",
    "Episode",
    "LifetimeSummary",
    "format_duration",
    "kaplan_meier",
    "nearest_rank",
    "nearest_rank_position",
    "reopen_rate",
    "summarize",
    "usually_lasts",
]

#: The horizons of :attr:`LifetimeSummary.surviving` unless others are asked for: the time a
#: seller needs to ship stock to the sell market's fulfilment centre (issue 12: 24 h, 72 h).
DEFAULT_HORIZONS: Final = (timedelta(hours=24), timedelta(hours=72))

#: "Spreads on this route usually last ..." is said only from at least this many closed
#: episodes; with fewer, a median is one or two anecdotes (a presentation rule, not a fee).
MIN_CLOSED_FOR_USUAL: Final = 3

#: The shares of the summaries' percentiles: the median and the 90th percentile.
MEDIAN: Final = Fraction(1, 2)
P90: Final = Fraction(9, 10)

_RATE_PLACES: Final = Decimal("0.0001")
#: What :func:`nearest_rank` ranks: lifetimes, or amounts in cents.
_Ranked = TypeVar("_Ranked", timedelta, int)


@dataclass(frozen=True, slots=True)
class Episode:
    """One opening of one route: ``closed_at`` is ``None`` while it is still open."""

    route_id: str
    opened_at: datetime
    closed_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "opened_at", require_utc(self.opened_at, "opened_at"))
        if self.closed_at is not None:
            closed_at = require_utc(self.closed_at, "closed_at")
            if closed_at < self.opened_at:
                raise ValueError(
                    f"episode of {self.route_id} closed at {closed_at.isoformat()} "
                    f"before it opened at {self.opened_at.isoformat()}"
                )
            object.__setattr__(self, "closed_at", closed_at)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def lifetime(self, until: datetime) -> timedelta:
        """How long it lasted (closed) or has lasted so far (open, observed ``until``)."""
        end = self.closed_at if self.closed_at is not None else require_utc(until, "until")
        return max(end - self.opened_at, timedelta(0))


@dataclass(frozen=True, slots=True)
class LifetimeSummary:
    """Lifetime figures of a set of episodes (one route, a market pair, a category ...)."""

    episodes: int
    closed: int
    still_open: int
    #: Nearest-rank median / 90th percentile of the closed episodes' lifetimes.
    median: timedelta | None
    p90: timedelta | None
    #: Closed episodes whose route opened again later.
    reopened: int
    #: ``reopened / closed`` to 4 places; ``None`` without a closed episode.
    reopen_rate: Decimal | None
    #: Kaplan-Meier share still open after each horizon (4 places); ``None``: not observed
    #: that long.
    surviving: Mapping[timedelta, Decimal | None]


def nearest_rank_position(count: int, share: Fraction) -> int:
    """The rank ``ceil(share x count)`` (1-based, at least 1) of the nearest-rank percentile
    of ``count`` values; also used to read that value from a sorted index (the API)."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if count < 1:
        raise ValueError(f"no rank among {count} values")
    return max(1, math.ceil(share * count))


def nearest_rank(sorted_values: Sequence[_Ranked], share: Fraction) -> _Ranked | None:
    """The value at rank ``ceil(share x n)`` (1-based, at least 1) of ascending values
    (lifetimes; also the backtest's profits in cents)."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if not sorted_values:
        return None
    return sorted_values[nearest_rank_position(len(sorted_values), share) - 1]


def kaplan_meier(observations: Iterable[tuple[timedelta, bool]], at: timedelta) -> Fraction | None:
    """Kaplan-Meier estimate of the share surviving (still open) at ``at``.

    ``observations``: ``(lifetime, closed)`` per episode; ``closed=False`` is censored. At a
    tie, closings count before censorings (the usual convention). ``None`` when the estimate
    at ``at`` is not supported by the data: no observation, or every episode observed for less
    than ``at`` with the longest one censored.
    """
    data = sorted(observations, key=lambda o: o[0])
    if not data:
        return None
    longest = data[-1][0]
    # Beyond the longest observation the estimate is 0 if all of them closed, else unknown.
    if at > longest and not all(closed for d, closed in data if d == longest):
        return None
    survival = Fraction(1)
    at_risk = len(data)
    i = 0
    while i < len(data) and data[i][0] <= at:
        time = data[i][0]
        closings = censored = 0
        while i < len(data) and data[i][0] == time:
            if data[i][1]:
                closings += 1
            else:
                censored += 1
            i += 1
        # A spread that closed exactly at ``at`` is no longer open at ``at``.
        if closings:
            survival *= 1 - Fraction(closings, at_risk)
        at_risk -= closings + censored
    return survival


def summarize(
    episodes: Iterable[Episode],
    *,
    until: datetime,
    horizons: Sequence[timedelta] = DEFAULT_HORIZONS,
) -> LifetimeSummary:
    """The :class:`LifetimeSummary` of ``episodes`` (any mix of routes), observed ``until``."""
    until = require_utc(until, "until")
    by_route: dict[str, list[Episode]] = defaultdict(list)
    for episode in episodes:
        by_route[episode.route_id].append(episode)
    closed_lifetimes: list[timedelta] = []
    observations: list[tuple[timedelta, bool]] = []
    reopened = still_open = 0
    for route_episodes in by_route.values():
        route_episodes.sort(key=lambda e: e.opened_at)
        for position, episode in enumerate(route_episodes):
            lifetime = episode.lifetime(until)
            observations.append((lifetime, episode.closed))
            if episode.closed:
                closed_lifetimes.append(lifetime)
                if position < len(route_episodes) - 1:
                    reopened += 1
            else:
                still_open += 1
    closed_lifetimes.sort()
    closed = len(closed_lifetimes)
    return LifetimeSummary(
        episodes=len(observations),
        closed=closed,
        still_open=still_open,
        median=nearest_rank(closed_lifetimes, MEDIAN),
        p90=nearest_rank(closed_lifetimes, P90),
        reopened=reopened,
        reopen_rate=reopen_rate(reopened, closed),
        surviving={h: _rate_or_none(kaplan_meier(observations, h)) for h in horizons},
    )


def reopen_rate(reopened: int, closed: int) -> Decimal | None:
    """``reopened / closed`` to 4 places (half even); ``None`` without a closed episode. Also
    used where the counts come from elsewhere (the API's market pair aggregation)."""
    return _rate(Fraction(reopened, closed)) if closed else None


def usually_lasts(summary: LifetimeSummary) -> str | None:
    """``"usually last 5 h 20 min (median of 7 closed; 90 % closed within 1 d 4 h)"``, or
    ``None`` with fewer than :data:`MIN_CLOSED_FOR_USUAL` closed episodes."""
    if summary.closed < MIN_CLOSED_FOR_USUAL or summary.median is None or summary.p90 is None:
        return None
    return (
        f"usually last {format_duration(summary.median)} "
        f"(median of {summary.closed} closed; 90 % closed within {format_duration(summary.p90)})"
    )


def format_duration(value: timedelta) -> str:
    """A duration for people, two units at most: ``2 d 3 h``, ``5 h 20 min``, ``45 min``,
    ``30 s`` (rounded down)."""
    seconds = int(value.total_seconds())
    if seconds < 0:
        raise ValueError(f"negative duration {value}")
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def _rate(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        _RATE_PLACES, rounding=ROUND_HALF_EVEN
    )


def _rate_or_none(value: Fraction | None) -> Decimal | None:
    return None if value is None else _rate(value)
