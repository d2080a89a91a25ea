"""Adaptive scheduling (pure) and its round-robin baseline."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.watchlist import WatchlistEntry
from app.ingest.scheduling import (
    AsinSignals,
    SchedulingPolicy,
    classify,
    plan_fetches,
    refresh_interval,
    round_robin_plan,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ALL = ("DE", "FR", "IT", "ES", "GB")
POLICY = SchedulingPolicy()


def fetched(ago: timedelta, markets: tuple[str, ...] = ALL) -> dict[str, datetime]:
    return dict.fromkeys(markets, NOW - ago)


def signals(asin: str, ago: timedelta = timedelta(hours=1), **kwargs: object) -> AsinSignals:
    kwargs.setdefault("required_move", 2.0)
    return AsinSignals(asin, last_fetched_at=fetched(ago), **kwargs)  # type: ignore[arg-type]


def test_tiers_and_base_intervals() -> None:
    hot = signals("A", open_opportunities=1, open_markets=frozenset({"DE", "FR"}))
    assert classify(hot, "DE", NOW, POLICY) == ("hot", timedelta(minutes=15))
    assert classify(hot, "IT", NOW, POLICY) == ("recent", timedelta(minutes=30))
    recent = signals("B", last_opportunity_at=NOW - timedelta(hours=5))
    assert classify(recent, "DE", NOW, POLICY)[0] == "recent"
    old = signals("C", last_opportunity_at=NOW - timedelta(days=3), required_move=0.05)
    assert classify(old, "DE", NOW, POLICY) == ("near", timedelta(minutes=30))
    assert classify(signals("D", required_move=1.5), "DE", NOW, POLICY) == (
        "far",
        timedelta(hours=12),
    )
    assert classify(signals("E", required_move=math.inf), "DE", NOW, POLICY) == (
        "far",
        timedelta(hours=24),
    )
    assert classify(signals("F", required_move=None), "DE", NOW, POLICY) == (
        "unknown",
        timedelta(hours=2),
    )
    assert classify(None, "DE", NOW, POLICY) == ("new", timedelta(0))
    partly = AsinSignals("G", last_fetched_at=fetched(timedelta(hours=1), ("DE",)))
    assert classify(partly, "FR", NOW, POLICY)[0] == "new"


def test_interval_grows_log_linearly_with_the_required_move() -> None:
    moves = [0.15, 0.3, 0.475, 0.6, 0.8]
    intervals = [classify(signals("A", required_move=m), "DE", NOW, POLICY)[1] for m in moves]
    assert intervals == sorted(intervals)
    assert intervals[0] == timedelta(minutes=30)
    assert intervals[-1] == timedelta(hours=12)
    # halfway between near_move and far_move: the geometric mean of 30 min and 12 h
    assert abs(intervals[2] - timedelta(minutes=math.sqrt(30 * 720))) < timedelta(seconds=1)


def test_volatility_and_priority_shorten_the_interval_within_bounds() -> None:
    calm = signals("A", required_move=1.0)
    volatile = signals("A", required_move=1.0, volatility=0.05)
    assert refresh_interval(calm, "DE", 0, NOW, POLICY)[1] == timedelta(hours=12)
    assert refresh_interval(volatile, "DE", 0, NOW, POLICY)[1] == timedelta(hours=6)
    prioritised = refresh_interval(calm, "DE", 3, NOW, POLICY)[1]
    assert prioritised == timedelta(hours=12) / 1.15**3
    hot = signals("B", open_opportunities=1, open_markets=frozenset({"DE"}), volatility=0.2)
    assert refresh_interval(hot, "DE", 10, NOW, POLICY)[1] == POLICY.min_interval


def test_new_asins_first_then_due_by_urgency_within_the_budget() -> None:
    entries = [WatchlistEntry(a) for a in ("COLD", "HOT", "NEW", "NEAR")]
    sig = {
        "COLD": signals("COLD", timedelta(hours=13), required_move=1.5),  # 12 h, 1.1x overdue
        "HOT": signals(
            "HOT",
            timedelta(minutes=35),
            open_opportunities=1,
            open_markets=frozenset({"DE", "FR"}),
            last_opportunity_at=NOW - timedelta(minutes=35),
        ),
        "NEAR": signals("NEAR", timedelta(minutes=40), required_move=0.1),  # 30 min: 1.4x
    }
    plan = plan_fetches(
        entries, sig, NOW, token_budget=12, policy=SchedulingPolicy(fill_budget=False)
    )
    assert plan.tokens == 12
    taken = [(a, m) for m, asins in plan.by_market.items() for a in asins]
    assert {a for a, _ in taken} == {"NEW", "HOT", "NEAR"}
    # the NEW ASIN (5 markets) and HOT's open markets come first, then HOT's others, then NEAR
    assert sorted(m for a, m in taken if a == "NEW") == sorted(ALL)
    assert sorted(m for a, m in taken if a == "HOT") == sorted(ALL)
    assert len([m for a, m in taken if a == "NEAR"]) == 2
    assert plan.reasons["HOT"].startswith("hot, every 15m")
    assert plan.reasons["NEW"].startswith("new")


def test_nothing_due_nothing_spent_without_fill() -> None:
    entries = [WatchlistEntry("A"), WatchlistEntry("B")]
    sig = {a: signals(a, timedelta(hours=1), required_move=1.5) for a in ("A", "B")}
    no_fill = SchedulingPolicy(fill_budget=False)
    assert plan_fetches(entries, sig, NOW, 100, policy=no_fill).tokens == 0
    filled = plan_fetches(entries, sig, NOW, 100, policy=SchedulingPolicy(fill_min_ratio=0.05))
    assert filled.tokens == 10  # leftover tokens refresh the most overdue pairs early


def test_fill_prefers_the_most_overdue_pairs() -> None:
    entries = [WatchlistEntry("A", ("DE",)), WatchlistEntry("B", ("DE",))]
    sig = {
        "A": signals("A", timedelta(hours=4), required_move=1.5),  # 1/3 of 12 h
        "B": signals("B", timedelta(hours=8), required_move=1.5),  # 2/3
    }
    plan = plan_fetches(entries, sig, NOW, 1)
    assert plan.by_market == {"DE": ["B"]}


def test_budget_and_tokens_per_asin() -> None:
    entries = [WatchlistEntry(f"A{i}", ("DE", "FR")) for i in range(10)]
    plan = plan_fetches(entries, {}, NOW, token_budget=7, tokens_per_asin=2)
    assert plan.tokens == 6
    assert plan.fetches == 3
    with pytest.raises(ValueError, match="tokens_per_asin"):
        plan_fetches(entries, {}, NOW, 7, tokens_per_asin=0)


def test_only_the_entry_markets_are_planned() -> None:
    plan = plan_fetches([WatchlistEntry("A", ("GB",))], {}, NOW, 10)
    assert plan.by_market == {"GB": ["A"]}


def test_round_robin_takes_least_recently_fetched_whole_asins() -> None:
    entries = [WatchlistEntry(a) for a in ("A", "B", "C", "D")]
    sig = {
        "A": signals("A", timedelta(hours=1)),
        "B": signals("B", timedelta(hours=3)),
        "C": signals("C", timedelta(hours=2), open_opportunities=1, open_markets=frozenset({"DE"})),
    }
    plan = round_robin_plan(entries, sig, NOW, token_budget=14)
    assert plan.tokens == 10
    assert plan.by_market["DE"] == ["D", "B"]  # never fetched, then the oldest
    assert plan.reasons["D"] == "round robin, never fetched"


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="near_move"):
        SchedulingPolicy(near_move=0.9, far_move=0.5)
    with pytest.raises(ValueError, match="min_interval"):
        SchedulingPolicy(min_interval=timedelta(hours=2), max_interval=timedelta(hours=1))


def test_requested_pairs_come_first_in_their_order_and_once() -> None:
    entries = [WatchlistEntry("NEW"), WatchlistEntry("CALM", ("DE", "FR"))]
    sig = {"CALM": signals("CALM", timedelta(hours=1), required_move=1.5)}  # not due for hours
    requested = [("CALM", "FR"), ("UNWATCHED1", "GB"), ("CALM", "FR")]
    plan = plan_fetches(
        entries, sig, NOW, token_budget=4, policy=SchedulingPolicy(fill_budget=False),
        requested=requested,
    )  # fmt: skip
    taken = [(a, m) for m, asins in plan.by_market.items() for a in asins]
    # the two requests (one ASIN not even watched), then two of NEW's five markets
    assert plan.tokens == 4
    assert ("CALM", "FR") in taken
    assert ("UNWATCHED1", "GB") in taken
    assert taken.count(("CALM", "FR")) == 1
    assert ("CALM", "DE") not in taken
    assert len([m for a, m in taken if a == "NEW"]) == 2
    assert plan.reasons["CALM"] == "requested (a Keepa notification without a quote)"
    # Within the budget: a request beyond it waits for the next run.
    assert plan_fetches(entries, sig, NOW, 1, requested=requested).by_market == {"FR": ["CALM"]}


def test_a_requested_pair_that_is_due_anyway_is_planned_once() -> None:
    entries = [WatchlistEntry("NEW", ("DE", "FR"))]
    plan = plan_fetches(entries, {}, NOW, 10, requested=[("NEW", "FR")])
    assert plan.by_market == {"FR": ["NEW"], "DE": ["NEW"]}
    assert plan.tokens == 2
