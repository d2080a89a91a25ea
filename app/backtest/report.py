"""The backtest report: how many spreads opened, how long they lasted and what they showed,
per market pair (route ``BUY:SELL``), per fee category and in total (docs/backtest.md).

Input: every event of an isolated ``arbitrage.opportunities`` topic after a replay (per
partition in offset order: the key is the ASIN, so the events of a route are in the order the
detector emitted them) and ``until``, the file's last event time. An *opening* is an
``opened`` event; it starts an :class:`~app.domain.lifetimes.Episode` of its route (``route_id``
= ``ASIN:BUY:SELL``) at its ``first_seen``, closed by the route's next ``closed`` event at its
``event_time``; an episode still open at the end of the events is censored at ``until``.
``updated`` events change no episode; an event whose ``event_id`` was seen before (a
redelivery) is skipped. The lifetime figures are
:func:`app.domain.lifetimes.summarize`'s; the category and the profits of an episode are those
of its ``opened`` event.
"""

from __future__ import annotations

import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from app.contracts.opportunities import OpportunityMessage
from app.domain.lifetimes import (
    DEFAULT_HORIZONS,
    MEDIAN,
    Episode,
    LifetimeSummary,
    format_duration,
    nearest_rank,
    summarize,
)
from app.domain.money import format_money
from app.domain.utc import format_utc, require_utc
from app.es.documents import opportunity_id

__all__ = [
    "NOT_OBSERVED",
    "BacktestReport",
    "GroupFigures",
    "Opening",
    "build_report",
    "format_report",
    "openings",
    "report_to_json",
]

#: What a survival share that the data cannot support is printed as.
NOT_OBSERVED: Final = "n/a, not observed that long"
_TOTAL: Final = "total"
#: The explanations above the tables are wrapped to this width.
_NOTE_WIDTH: Final = 100


@dataclass(frozen=True, slots=True)
class Opening:
    """One episode with what its ``opened`` event showed."""

    episode: Episode
    pair: str
    category: str
    profit_eur_cents: int
    #: ``None``: unknown (no sales estimate or offer count for the sell market).
    expected_monthly_profit_eur_cents: int | None


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """The figures of one group of episodes (a market pair, a category, or all)."""

    name: str
    lifetimes: LifetimeSummary
    routes: int
    #: Routes whose last episode is closed (``routes - lifetimes.still_open``: a route has at
    #: most one open episode, its last).
    routes_closed_at_end: int
    profit_median_eur_cents: int | None
    profit_max_eur_cents: int | None
    #: Sum over the openings whose expected monthly profit is known, and how many those are.
    expected_monthly_profit_eur_cents: int
    expected_monthly_known: int


@dataclass(frozen=True, slots=True)
class BacktestReport:
    until: datetime
    events: int
    events_by_type: Mapping[str, int]
    #: ``closed`` / ``updated`` events of a route without an open episode, ``opened`` events
    #: of a route already open (0 on a fresh topic; counted, never guessed into an episode).
    unmatched: int
    pairs: Sequence[GroupFigures]
    categories: Sequence[GroupFigures]
    total: GroupFigures
    #: Every episode with what its opening showed (the plots of :mod:`app.backtest.html`).
    openings: Sequence[Opening] = ()
    horizons: Sequence[timedelta] = field(default=DEFAULT_HORIZONS)


def route_id(event: OpportunityMessage) -> str:
    """The route's id, ``ASIN:BUY:SELL``: the ``opportunities`` document's (and so the
    API's episode route id)."""
    return opportunity_id(event.asin, event.buy_market, event.sell_market)


def openings(events: Iterable[OpportunityMessage], until: datetime) -> tuple[list[Opening], int]:
    """The episodes of ``events`` (see the module doc) and the number of unmatched events."""
    until = require_utc(until, "until")
    open_now: dict[str, OpportunityMessage] = {}
    done: list[Opening] = []
    seen: set[str] = set()
    unmatched = 0
    for event in events:
        if event.event_id in seen:  # a redelivered event (at-least-once): counted once
            continue
        seen.add(event.event_id)
        rid = route_id(event)
        if event.event == "opened" and rid not in open_now:
            open_now[rid] = event
        elif rid not in open_now or event.event == "opened":
            # Never on a fresh topic: the detector closes a route before it reopens it.
            unmatched += 1
        elif event.event == "closed":
            done.append(_opening(open_now.pop(rid), event.event_time))
    done.extend(_opening(opened, None) for opened in open_now.values())
    return done, unmatched


def _opening(opened: OpportunityMessage, closed_at: datetime | None) -> Opening:
    return Opening(
        episode=Episode(route_id(opened), opened.first_seen, closed_at),
        pair=opened.route,
        category=opened.category,
        profit_eur_cents=opened.profit_eur_cents,
        expected_monthly_profit_eur_cents=opened.expected_monthly_profit_eur_cents,
    )


def _figures(
    name: str, group: Sequence[Opening], until: datetime, horizons: Sequence[timedelta]
) -> GroupFigures:
    lifetimes = summarize((o.episode for o in group), until=until, horizons=horizons)
    routes = len({o.episode.route_id for o in group})
    profits = sorted(o.profit_eur_cents for o in group)
    monthly = [
        o.expected_monthly_profit_eur_cents
        for o in group
        if o.expected_monthly_profit_eur_cents is not None
    ]
    return GroupFigures(
        name=name,
        lifetimes=lifetimes,
        routes=routes,
        routes_closed_at_end=routes - lifetimes.still_open,
        profit_median_eur_cents=nearest_rank(profits, MEDIAN),
        profit_max_eur_cents=profits[-1] if profits else None,
        expected_monthly_profit_eur_cents=sum(monthly),
        expected_monthly_known=len(monthly),
    )


def build_report(
    events: Sequence[OpportunityMessage],
    *,
    until: datetime,
    horizons: Sequence[timedelta] = DEFAULT_HORIZONS,
) -> BacktestReport:
    """The report of ``events`` (in topic order per route) observed ``until``."""
    found, unmatched = openings(events, until)
    by_pair: dict[str, list[Opening]] = defaultdict(list)
    by_category: dict[str, list[Opening]] = defaultdict(list)
    for o in found:
        by_pair[o.pair].append(o)
        by_category[o.category].append(o)
    return BacktestReport(
        until=until,
        events=len(events),
        events_by_type=dict(sorted(Counter(e.event for e in events).items())),
        unmatched=unmatched,
        pairs=[_figures(k, v, until, horizons) for k, v in sorted(by_pair.items())],
        categories=[_figures(k, v, until, horizons) for k, v in sorted(by_category.items())],
        total=_figures(_TOTAL, found, until, horizons),
        openings=tuple(found),
        horizons=tuple(horizons),
    )


# --- text ----------------------------------------------------------------------------------


def _duration(value: timedelta | None) -> str:
    return "-" if value is None else format_duration(value)


def _share(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _money(cents: int | None) -> str:
    return "-" if cents is None else format_money(cents)


def _hours(h: timedelta) -> str:
    return f"{h / timedelta(hours=1):g} h"


def _columns(horizons: Sequence[timedelta]) -> list[str]:
    return [
        "openings",
        "routes",
        "closed",
        "open",
        "median",
        "p90",
        *(f"open>{_hours(h)}" for h in horizons),
        "reopen",
        "profit med",
        "profit max",
        "monthly sum (known)",
    ]


def _row(g: GroupFigures, horizons: Sequence[timedelta]) -> list[str]:
    s = g.lifetimes
    return [
        str(s.episodes),
        str(g.routes),
        str(s.closed),
        str(s.still_open),
        _duration(s.median),
        _duration(s.p90),
        *(_share(s.surviving.get(h)) for h in horizons),
        _share(s.reopen_rate),
        _money(g.profit_median_eur_cents),
        _money(g.profit_max_eur_cents),
        f"{format_money(g.expected_monthly_profit_eur_cents)} ({g.expected_monthly_known})",
    ]


def _table(title: str, groups: Sequence[GroupFigures], horizons: Sequence[timedelta]) -> str:
    header = [title, *_columns(horizons)]
    rows = [[g.name, *_row(g, horizons)] for g in groups]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_report(report: BacktestReport) -> str:
    """The report as fixed-width tables: per market pair, per category, total."""
    h = report.horizons
    by_type = ", ".join(f"{n} {t}" for t, n in report.events_by_type.items()) or "none"
    notes = [
        f"opportunity events: {report.events} ({by_type}); observed until "
        f"{format_utc(report.until)} (the file's last event time; open spreads censored there)",
        "median/p90: lifetimes of the closed openings (nearest rank); open>N h: Kaplan-Meier "
        f"share still open N h after opening ({NOT_OBSERVED}); reopen: closed openings "
        "whose route opened again; profit at opening (EUR); monthly: sum of the expected "
        "monthly profit where known (how many known)",
    ]
    if report.unmatched:
        notes.append(f"events without an open episode of their route: {report.unmatched}")
    return "\n\n".join(
        [
            *(textwrap.fill(note, width=_NOTE_WIDTH) for note in notes),
            _table("market pair", report.pairs, h),
            _table("category", report.categories, h),
            _table("all", [report.total], h),
        ]
    )


# --- JSON ----------------------------------------------------------------------------------


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _group_json(g: GroupFigures, horizons: Sequence[timedelta]) -> dict[str, Any]:
    s = g.lifetimes
    return {
        "name": g.name,
        "openings": s.episodes,
        "routes": g.routes,
        "closed": s.closed,
        "still_open": s.still_open,
        "routes_closed_at_end": g.routes_closed_at_end,
        "lifetime_median_s": _seconds(s.median),
        "lifetime_p90_s": _seconds(s.p90),
        "lifetime_median": None if s.median is None else format_duration(s.median),
        "lifetime_p90": None if s.p90 is None else format_duration(s.p90),
        "surviving": {
            f"{h / timedelta(hours=1):g}h": None if (v := s.surviving.get(h)) is None else str(v)
            for h in horizons
        },
        "reopened": s.reopened,
        "reopen_rate": None if s.reopen_rate is None else str(s.reopen_rate),
        "profit_at_opening_median_eur_cents": g.profit_median_eur_cents,
        "profit_at_opening_max_eur_cents": g.profit_max_eur_cents,
        "expected_monthly_profit_eur_cents": g.expected_monthly_profit_eur_cents,
        "expected_monthly_profit_known": g.expected_monthly_known,
    }


def report_to_json(report: BacktestReport) -> dict[str, Any]:
    """The report as JSON-ready data: durations in seconds (and for people), shares and
    rates as decimal strings (``null``: not observed that long / no closed opening), money
    in integer EUR cents."""
    h = report.horizons
    return {
        "until": format_utc(report.until),
        "events": report.events,
        "events_by_type": dict(report.events_by_type),
        "unmatched_events": report.unmatched,
        "horizons_h": [x / timedelta(hours=1) for x in h],
        "pairs": [_group_json(g, h) for g in report.pairs],
        "categories": [_group_json(g, h) for g in report.categories],
        "total": _group_json(report.total, h),
    }
