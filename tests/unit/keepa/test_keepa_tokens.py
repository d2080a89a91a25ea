"""TokenState / TokenPlanner: pure token arithmetic."""

from __future__ import annotations

import pytest
from keepa_fakes import SERVER_TIME_MS, out_of_tokens_body

from app.keepa import BatchPlan, TokenPlanner, TokenState


def state(tokens: int, refill_in: int = 30_000, rate: int = 20) -> TokenState:
    return TokenState(tokens_left=tokens, refill_in_ms=refill_in, refill_rate=rate)


def test_state_from_a_keepa_body() -> None:
    body = out_of_tokens_body(tokens_left=-12, refill_in=8_500, refill_rate=60, tokens_consumed=3)
    assert TokenState.from_response(body) == TokenState(
        tokens_left=-12,
        refill_in_ms=8_500,
        refill_rate=60,
        timestamp_ms=SERVER_TIME_MS,
        tokens_consumed=3,
        token_flow_reduction=0.0,
    )
    assert TokenState.from_response({"products": []}) is None
    assert TokenState.from_response({"tokensLeft": None, "refillIn": 1, "refillRate": 1}) is None


def test_costs_are_configurable() -> None:
    planner = TokenPlanner()
    assert planner.cost_per_asin(buybox=False) == 1
    assert planner.cost_per_asin(buybox=True) == 3  # +2 per product for the buy box
    assert planner.cost(100, buybox=True) == 300
    assert TokenPlanner(tokens_per_asin=2, buybox_tokens_per_asin=0).cost(5, buybox=True) == 10


def test_affordable_asins() -> None:
    planner = TokenPlanner()
    assert planner.affordable_asins(state(1200), buybox=False) == 100  # request limit
    assert planner.affordable_asins(state(42), buybox=False) == 42
    assert planner.affordable_asins(state(42), buybox=True) == 14
    assert planner.affordable_asins(state(2), buybox=True) == 0
    assert planner.affordable_asins(state(-30), buybox=False) == 0


def test_project_refills_once_a_minute_up_to_the_hourly_cap() -> None:
    planner = TokenPlanner()
    s = TokenState(tokens_left=5, refill_in_ms=30_000, refill_rate=20, timestamp_ms=1_000)
    assert planner.project(s, 0) == s
    before = planner.project(s, 29_999)
    assert (before.tokens_left, before.refill_in_ms) == (5, 1)
    assert before.timestamp_ms == 30_999
    first = planner.project(s, 30_000)
    assert (first.tokens_left, first.refill_in_ms) == (25, 60_000)
    later = planner.project(s, 30_000 + 2 * 60_000 + 500)
    assert (later.tokens_left, later.refill_in_ms) == (65, 59_500)
    full = planner.project(s, 10 * 3_600_000)
    assert full.tokens_left == 1200  # 60 minutes x 20 tokens: older tokens expire
    debt = planner.project(state(-50), 30_000 + 60_000)
    assert debt.tokens_left == -10


def test_project_keeps_a_balance_above_the_cap() -> None:
    # New accounts can start above 60 x rate; refills just do not add to it.
    assert TokenPlanner().project(state(5000), 120_000).tokens_left == 5000


def test_wait_ms() -> None:
    planner = TokenPlanner(safety_ms=1_000)
    assert planner.wait_ms(state(100), 100) == 0
    assert planner.wait_ms(state(99), 100) == 31_000
    assert planner.wait_ms(state(19), 100) == 30_000 + 4 * 60_000 + 1_000
    assert planner.wait_ms(state(0), 20) == 31_000
    assert planner.wait_ms(state(0), 21) == 91_000
    assert planner.wait_ms(state(-37, refill_in=23_000), 2) == 84_000
    # More than the bucket holds: waiting for a full bucket is all that helps.
    assert planner.wait_ms(state(0, rate=1), 300) == 30_000 + 59 * 60_000 + 1_000
    with pytest.raises(ValueError, match="refill rate of 0"):
        planner.wait_ms(state(0, rate=0), 1)


def test_next_batch() -> None:
    planner = TokenPlanner()
    assert planner.next_batch(state(1200), 250, buybox=False) == BatchPlan(100)
    assert planner.next_batch(state(1200), 7, buybox=False) == BatchPlan(7)
    assert planner.next_batch(state(30), 250, buybox=False) == BatchPlan(30)
    assert planner.next_batch(state(30), 250, buybox=True) == BatchPlan(10)
    assert planner.next_batch(state(0), 250, buybox=False) == BatchPlan(0, 31.0)
    assert planner.next_batch(state(2), 5, buybox=True) == BatchPlan(0, 31.0)
    assert planner.next_batch(state(0), 0, buybox=False) == BatchPlan(0)


def test_next_batch_with_min_batch_waits_for_a_worthwhile_batch() -> None:
    planner = TokenPlanner(min_batch=50)
    assert planner.next_batch(state(30), 250, buybox=False) == BatchPlan(0, 31.0)
    assert planner.next_batch(state(0), 250, buybox=False) == BatchPlan(0, 151.0)
    assert planner.next_batch(state(30), 20, buybox=False) == BatchPlan(20)
    assert planner.next_batch(state(60), 250, buybox=False) == BatchPlan(60)


def test_full_bucket_that_cannot_reach_min_batch_sends_anyway() -> None:
    planner = TokenPlanner(min_batch=100)
    # 1 token/minute caps the balance at 60: waiting longer will never buy 100 ASINs.
    assert planner.next_batch(state(60, rate=1), 250, buybox=False) == BatchPlan(60)


def test_estimate_seconds() -> None:
    planner = TokenPlanner(safety_ms=0)
    assert planner.estimate_seconds(state(1200), 300, buybox=False) == 0.0
    # 40 now, then 20 per minute: 100 ASINs need the refill in 30 s plus two more minutes.
    assert planner.estimate_seconds(state(40), 100, buybox=False) == 150.0
    assert planner.estimate_seconds(state(40), 100, buybox=True) > 150.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tokens_per_asin": 0},
        {"min_batch": 0},
        {"min_batch": 20, "max_batch": 10},
        {"max_batch": 101},
        {"refill_period_ms": 0},
    ],
)
def test_invalid_planner(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        TokenPlanner(**kwargs)
