"""Lifetimes of spreads: nearest-rank percentiles, reopen rate, Kaplan-Meier survival."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from app.domain.lifetimes import (
    DEFAULT_HORIZONS,
    Episode,
    format_duration,
    kaplan_meier,
    nearest_rank,
    summarize,
    usually_lasts,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


def closed(route: str, start_h: float, hours: float) -> Episode:
    return Episode(route, T0 + start_h * H, T0 + (start_h + hours) * H)


def test_nearest_rank_picks_an_observed_value() -> None:
    values = [timedelta(minutes=m) for m in (10, 20, 30, 40)]
    # n = 4: median rank ceil(0.5 x 4) = 2 -> 20 min; p90 rank ceil(0.9 x 4) = ceil(3.6) = 4.
    assert nearest_rank(values, Fraction(1, 2)) == timedelta(minutes=20)
    assert nearest_rank(values, Fraction(9, 10)) == timedelta(minutes=40)
    assert nearest_rank([], Fraction(1, 2)) is None
    with pytest.raises(ValueError, match="share"):
        nearest_rank(values, Fraction(0))


def test_summary_of_one_route_with_reopenings() -> None:
    # Route A opened four times: 2 h, 6 h, 1 h, then open since hour 40 (observed until 50).
    episodes = [
        closed("A", 0, 2),
        closed("A", 10, 6),
        closed("A", 20, 1),
        Episode("A", T0 + 40 * H),
    ]
    summary = summarize(episodes, until=T0 + 50 * H)
    assert (summary.episodes, summary.closed, summary.still_open) == (4, 3, 1)
    # closed lifetimes sorted 1, 2, 6 h: median rank ceil(1.5) = 2 -> 2 h; p90 rank
    # ceil(2.7) = 3 -> 6 h.
    assert summary.median == 2 * H
    assert summary.p90 == 6 * H
    # Each of the three closed episodes was followed by another opening: 3 / 3.
    assert summary.reopened == 3
    assert summary.reopen_rate == Decimal("1.0000")
    # Kaplan-Meier at 24 h: closings at 1 h (1 of 4 at risk), 2 h (1 of 3), 6 h (1 of 2);
    # the open one (10 h so far) is censored: S = 3/4 x 2/3 x 1/2 = 1/4; but 24 h is beyond
    # the longest observation (10 h, censored) -> unknown.
    assert summary.surviving == {DEFAULT_HORIZONS[0]: None, DEFAULT_HORIZONS[1]: None}
    assert usually_lasts(summary) == "usually last 2 h (median of 3 closed; 90 % closed within 6 h)"


def test_reopen_counts_per_route_and_survival_with_censoring() -> None:
    day = timedelta(days=1)
    episodes = [
        # route A: 10 h, then 30 h (the last one: not reopened)
        closed("A", 0, 10),
        closed("A", 20, 30),
        # route B: 80 h, closed, never reopened
        closed("B", 0, 80),
        # route C: open for 48 h so far (censored at 48 h)
        Episode("C", T0 + 52 * H),
    ]
    summary = summarize(episodes, until=T0 + 100 * H)
    assert (summary.episodes, summary.closed, summary.still_open) == (4, 3, 1)
    # reopened: only A's first episode -> 1 of 3 closed = 0.3333.
    assert summary.reopened == 1
    assert summary.reopen_rate == Decimal("0.3333")
    # Lifetimes 10 (closed), 30 (closed), 48 (censored), 80 (closed).
    # S(24 h) = 1 - 1/4 = 3/4 (only the 10 h closing before 24 h).
    # S(72 h) = 3/4 x (1 - 1/3) [30 h, 3 at risk] = 1/2; the 48 h one leaves the risk set
    # censored; 80 h is beyond 72 h.
    assert summary.surviving == {day: Decimal("0.7500"), 3 * day: Decimal("0.5000")}


def test_kaplan_meier_edges() -> None:
    assert kaplan_meier([], H) is None
    # All closed by 5 h: beyond the longest (a closing) nobody is open.
    assert kaplan_meier([(2 * H, True), (5 * H, True)], 24 * H) == 0
    # A closing exactly at the horizon is no longer open at it: 1 - 1/2.
    assert kaplan_meier([(24 * H, True), (30 * H, False)], 24 * H) == Fraction(1, 2)
    # Tie of a closing and a censoring at the longest time: beyond it, unknown.
    assert kaplan_meier([(5 * H, True), (5 * H, False)], 6 * H) is None


def test_unknown_without_closed_episodes() -> None:
    summary = summarize([Episode("A", T0)], until=T0 + 30 * H)
    assert summary.median is None
    assert summary.p90 is None
    assert summary.reopen_rate is None
    # Only censored data up to 30 h: S(24 h) = 1 (no closing seen), 72 h unknown.
    assert summary.surviving == {DEFAULT_HORIZONS[0]: Decimal("1.0000"), DEFAULT_HORIZONS[1]: None}
    assert usually_lasts(summary) is None


def test_usually_lasts_needs_three_closed() -> None:
    two = summarize([closed("A", 0, 1), closed("A", 5, 2)], until=T0 + 10 * H)
    assert usually_lasts(two) is None


def test_episode_validation() -> None:
    with pytest.raises(ValueError, match="naive"):
        Episode("A", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="before it opened"):
        Episode("A", T0, T0 - H)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=30), "30 s"),
        (timedelta(minutes=45, seconds=59), "45 min"),
        (timedelta(hours=5, minutes=20), "5 h 20 min"),
        (timedelta(hours=5), "5 h"),
        (timedelta(days=2, hours=3, minutes=9), "2 d 3 h"),
        (timedelta(days=3), "3 d"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
