from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.alerts.retry import (
    AttemptOutcome,
    RetryPolicy,
    apprise_status,
    classify_apprise_failure,
    classify_error,
    classify_status,
    retry_after_from_body,
    retry_after_seconds,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, AttemptOutcome.DELIVERED),
        (204, AttemptOutcome.DELIVERED),
        (408, AttemptOutcome.RETRY),
        (429, AttemptOutcome.RETRY),
        (500, AttemptOutcome.RETRY),
        (502, AttemptOutcome.RETRY),
        (503, AttemptOutcome.RETRY),
        (599, AttemptOutcome.RETRY),
        (301, AttemptOutcome.FAIL),
        (400, AttemptOutcome.FAIL),
        (401, AttemptOutcome.FAIL),
        (403, AttemptOutcome.FAIL),
        (404, AttemptOutcome.FAIL),
        (410, AttemptOutcome.FAIL),
        (413, AttemptOutcome.FAIL),
    ],
)
def test_status_classification(status: int, outcome: AttemptOutcome) -> None:
    assert classify_status(status) is outcome


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (httpx.ConnectError("refused"), AttemptOutcome.RETRY),
        (httpx.ConnectTimeout("slow"), AttemptOutcome.RETRY),
        (httpx.ReadTimeout("slow"), AttemptOutcome.RETRY),
        (httpx.ReadError("reset"), AttemptOutcome.RETRY),
        (httpx.RemoteProtocolError("server hung up"), AttemptOutcome.RETRY),
        (httpx.UnsupportedProtocol("gopher"), AttemptOutcome.FAIL),
        (httpx.LocalProtocolError("bad header"), AttemptOutcome.FAIL),
        (ValueError("a bug"), AttemptOutcome.FAIL),
    ],
)
def test_error_classification(error: BaseException, outcome: AttemptOutcome) -> None:
    assert classify_error(error) is outcome


def test_exponential_backoff_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_base_s=1.0, backoff_max_s=10.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert policy.backoff(1000) == 10.0


def test_attempts_are_limited() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_base_s=0.5, backoff_max_s=60)
    assert policy.next_delay(1) == 0.5
    assert policy.next_delay(2) == 1.0
    assert policy.next_delay(3) is None
    assert RetryPolicy(max_attempts=1).next_delay(1) is None


def test_retry_after_replaces_the_backoff_and_too_long_gives_up() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_base_s=1.0, backoff_max_s=30.0)
    assert policy.next_delay(1, retry_after=7.0) == 7.0
    assert policy.next_delay(1, retry_after=0.0) == 0.0
    assert policy.next_delay(1, retry_after=3600.0) is None
    assert policy.next_delay(5, retry_after=1.0) is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Fri, 20 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 20 Nov 2026 11:00:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def test_retry_after_in_discord_and_telegram_bodies() -> None:
    assert retry_after_from_body({"message": "rate limited", "retry_after": 1.5}) == 1.5
    assert retry_after_from_body({"ok": False, "parameters": {"retry_after": 12}}) == 12.0
    assert retry_after_from_body({"retry_after": True}) is None
    assert retry_after_from_body({"retry_after": -1}) is None
    assert retry_after_from_body(["retry_after", 3]) is None
    assert retry_after_from_body(None) is None


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        RetryPolicy(backoff_base_s=-1)
    with pytest.raises(ValueError, match="1-based"):
        RetryPolicy().backoff(0)


@pytest.mark.parametrize(
    ("messages", "status"),
    [
        (["Failed to send JSON POST notification: Internal server error., error=500."], 500),
        (["Failed to send to Slack: error=200."], 200),
        (["Failed to send Discord notification: Too Many Requests, error=429."], 429),
        (["A Connection error occurred sending JSON notification to example.org."], None),
        (["Failed ... error=502.", "Failed ... error=404."], 404),  # the last one counts
        (["terror=500x"], None),
        ([], None),
    ],
)
def test_the_http_status_is_read_from_apprise_s_report(
    messages: list[str], status: int | None
) -> None:
    assert apprise_status(messages) == status


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (None, AttemptOutcome.RETRY),  # connection error, timeout, a plugin that raised
        (500, AttemptOutcome.RETRY),
        (429, AttemptOutcome.RETRY),
        (408, AttemptOutcome.RETRY),
        (404, AttemptOutcome.FAIL),
        (401, AttemptOutcome.FAIL),
        (200, AttemptOutcome.FAIL),  # answered, but not what the service's plugin expects
    ],
)
def test_what_an_apprise_failure_means(status: int | None, outcome: AttemptOutcome) -> None:
    assert classify_apprise_failure(status) is outcome
