"""The sweep's decisions (:mod:`app.domain.sweep`), with ``now`` passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.sweep import PendingRequests, RequestKey, is_stale_at, profile_requests

NOW = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def test_asins_evaluated_with_another_or_an_unknown_profile_are_requested() -> None:
    recorded = [(b"B0AAAAAAA1", "v2"), (b"B0AAAAAAA2", "v1"), (b"B0AAAAAAA3", None)]
    assert profile_requests(recorded, "v2") == [b"B0AAAAAAA2", b"B0AAAAAAA3"]
    assert profile_requests(recorded[:1], "v2") == []


def test_stale_at_now_is_the_detection_rule_with_now_as_reference() -> None:
    assert not is_stale_at([NOW - DAY, NOW - timedelta(hours=1)], NOW, DAY)  # exactly 24 h: fresh
    assert is_stale_at([NOW - DAY - timedelta(seconds=1), NOW], NOW, DAY)
    assert not is_stale_at([], NOW, DAY)
    # A fraction of an hour (STALE_AFTER_HOURS=0.01 is 36 s).
    assert is_stale_at([NOW - timedelta(seconds=37)], NOW, timedelta(seconds=36))
    with pytest.raises(ValueError, match="now"):
        is_stale_at([NOW], datetime(2026, 11, 29, 16, 0), DAY)


def test_a_pending_request_is_not_sent_again_until_it_expires() -> None:
    pending = PendingRequests(ttl=60)
    key = RequestKey(b"B0AAAAAAA1", "wall_clock", "v1")
    assert pending.should_send(key, now=100.0)
    assert not pending.should_send(key, now=130.0)  # pending: no flood
    # Another reason or profile version is another request.
    assert pending.should_send(RequestKey(b"B0AAAAAAA1", "wall_clock", "v2"), now=130.0)
    assert pending.should_send(RequestKey(b"B0AAAAAAA1", "profile_changed", "v1"), now=130.0)
    assert len(pending) == 3
    pending.expire(now=159.0)
    assert len(pending) == 3
    pending.expire(now=160.0)  # the first one is 60 s old: forgotten
    assert len(pending) == 2
    assert pending.should_send(key, now=160.0)


def test_a_request_that_was_not_sent_is_asked_again() -> None:
    pending = PendingRequests(ttl=60)
    key = RequestKey(b"B0AAAAAAA1", "profile_changed", "v1")
    assert pending.should_send(key, now=0.0)
    pending.forget(key)
    assert pending.should_send(key, now=1.0)


def test_the_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl"):
        PendingRequests(ttl=0)
