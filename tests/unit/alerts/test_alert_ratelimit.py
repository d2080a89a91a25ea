from __future__ import annotations

import pytest

from app.alerts.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_capacity_then_one_token_per_interval() -> None:
    clock = Clock()
    bucket = TokenBucket(6, clock=clock)  # 6 a minute: one every 10 s, bursts of 6
    assert [bucket.reserve() for _ in range(6)] == [0.0] * 6
    assert bucket.reserve() == pytest.approx(10.0)
    # Waiting callers queue up: the next one is booked 10 s after that.
    assert bucket.reserve() == pytest.approx(20.0)


def test_tokens_refill_with_time_up_to_capacity() -> None:
    clock = Clock()
    bucket = TokenBucket(60, capacity=2, clock=clock)  # one a second, bursts of 2
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(1.0)
    clock.now += 0.5
    assert bucket.reserve() == pytest.approx(1.5)
    clock.now += 3600  # a long idle period refills only to capacity
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(1.0)


def test_a_slow_rate_still_allows_one_request() -> None:
    clock = Clock()
    bucket = TokenBucket(0.5, clock=clock)  # one every 2 minutes
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(120.0)


def test_zero_means_unlimited() -> None:
    bucket = TokenBucket(0, clock=Clock())
    assert bucket.unlimited
    assert all(bucket.reserve() == 0.0 for _ in range(1000))


def test_a_clock_going_backwards_does_not_add_tokens() -> None:
    clock = Clock()
    bucket = TokenBucket(60, capacity=1, clock=clock)
    assert bucket.reserve() == 0.0
    clock.now -= 100
    assert bucket.reserve() == pytest.approx(1.0)


def test_negative_rate_is_rejected() -> None:
    with pytest.raises(ValueError, match="rate_per_minute"):
        TokenBucket(-1)


def test_a_reservation_beyond_max_wait_is_refused_and_takes_nothing() -> None:
    clock = Clock()
    bucket = TokenBucket(6, capacity=1, clock=clock)  # one every 10 s
    assert bucket.reserve(max_wait=0) == 0.0
    assert bucket.reserve(max_wait=5) is None
    assert bucket.reserve(max_wait=5) is None  # refusals do not book tokens
    assert bucket.reserve(max_wait=10) == pytest.approx(10.0)
    assert bucket.reserve(max_wait=15) is None
    clock.now += 10
    assert bucket.reserve(max_wait=15) == pytest.approx(10.0)
    assert TokenBucket(0, clock=clock).reserve(max_wait=0) == 0.0
