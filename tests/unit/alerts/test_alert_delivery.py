"""The delivery loop against an in-process HTTP transport (httpx.MockTransport), with the
sleeps recorded instead of slept."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from app.alerts.config import WebhookConfig
from app.alerts.delivery import WebhookSender
from app.alerts.retry import AttemptOutcome, RetryPolicy

URL = "https://hooks.example.org/services/supersecrettoken"
HOOK = WebhookConfig.model_validate({"name": "team", "url": URL, "format": "json"})
PAYLOAD = {"summary": "hello", "n": 1}

Handler = Callable[[httpx.Request], httpx.Response]


class Replies:
    """Answers requests from a script of responses/exceptions; records the requests."""

    def __init__(self, *script: int | httpx.Response | Exception) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, Exception):
            raise step
        if isinstance(step, int):
            return httpx.Response(step, text="ok" if step < 300 else "nope")
        return step


class Harness:
    def __init__(
        self,
        replies: Replies,
        *,
        rate: float = 0,
        attempts: int = 4,
        max_wait: float | None = None,
    ) -> None:
        self.replies = replies
        self.sleeps: list[float] = []
        self.clock_s = 0.0
        self.t = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(replies))
        self.sender = WebhookSender(
            self.client,
            RetryPolicy(max_attempts=attempts, backoff_base_s=1.0, backoff_max_s=30.0),
            rate,
            max_wait,
            sleep=self._sleep,
            now=lambda: self.t + timedelta(seconds=self.clock_s),
            clock=lambda: self.clock_s,
        )

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock_s += seconds


@pytest.fixture
async def harness() -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*script: int | httpx.Response | Exception, **kwargs: float) -> Harness:
        h = Harness(Replies(*script), **kwargs)  # type: ignore[arg-type]
        made.append(h)
        return h

    yield make
    for h in made:
        await h.client.aclose()


async def test_delivered_first_time(harness: Callable[..., Harness]) -> None:
    h = harness(204)
    result = await h.sender.deliver(HOOK, PAYLOAD)
    assert result.delivered
    assert result.http_status == 204
    assert result.sent_at == h.t
    assert [a.outcome for a in result.attempts] == [AttemptOutcome.DELIVERED]
    (request,) = h.replies.requests
    assert str(request.url) == URL
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == PAYLOAD
    assert h.sleeps == []


async def test_5xx_and_connection_errors_are_retried_with_backoff(
    harness: Callable[..., Harness],
) -> None:
    h = harness(500, httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), 200)
    result = await h.sender.deliver(HOOK, PAYLOAD)
    assert result.delivered
    assert len(h.replies.requests) == 4
    assert h.sleeps == [1.0, 2.0, 4.0]
    log = [(a.number, a.outcome, a.http_status, a.wait_s) for a in result.attempts]
    assert log == [
        (1, AttemptOutcome.RETRY, 500, 1.0),
        (2, AttemptOutcome.RETRY, None, 2.0),
        (3, AttemptOutcome.RETRY, None, 4.0),
        (4, AttemptOutcome.DELIVERED, 200, None),
    ]
    assert result.attempts[0].error == "HTTP 500: nope"
    assert result.attempts[1].error == "ConnectError: refused"
    assert result.sent_at == h.t + timedelta(seconds=7)


async def test_gives_up_after_max_attempts(harness: Callable[..., Harness]) -> None:
    h = harness(503, 503, 503, 503, 200, attempts=3)
    result = await h.sender.deliver(HOOK, PAYLOAD)
    assert not result.delivered
    assert len(h.replies.requests) == 3
    assert result.http_status == 503
    assert result.sent_at is None
    assert h.sleeps == [1.0, 2.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 301])
async def test_other_4xx_fail_at_once(harness: Callable[..., Harness], status: int) -> None:
    h = harness(status)
    result = await h.sender.deliver(HOOK, PAYLOAD)
    assert not result.delivered
    assert len(h.replies.requests) == 1
    assert result.http_status == status
    assert result.attempts[0].outcome is AttemptOutcome.FAIL
    assert h.sleeps == []


async def test_429_honours_retry_after(harness: Callable[..., Harness]) -> None:
    h = harness(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(429, json={"ok": False, "parameters": {"retry_after": 3}}),
        httpx.Response(429, json={"message": "slow down", "retry_after": 0.25}),
        200,
    )
    result = await h.sender.deliver(HOOK, PAYLOAD)
    assert result.delivered
    assert h.sleeps == [7.0, 3.0, 0.25]


async def test_retry_after_beyond_the_maximum_gives_up(harness: Callable[..., Harness]) -> None:
    h = harness(httpx.Response(429, headers={"Retry-After": "3600"}), 200)
    result = await h.sender.deliver(HOOK, PAYLOAD)
    assert not result.delivered
    assert len(h.replies.requests) == 1
    assert h.sleeps == []


async def test_rate_limit_spaces_requests_per_webhook(harness: Callable[..., Harness]) -> None:
    h = harness(rate=2)  # two a minute, bursts of two
    other = WebhookConfig.model_validate({"name": "other", "url": "http://127.0.0.1:1/x"})
    for _ in range(3):
        assert (await h.sender.deliver(HOOK, PAYLOAD)).delivered
    assert h.sleeps == [30.0]
    assert (await h.sender.deliver(other, PAYLOAD)).delivered  # its own bucket
    assert h.sleeps == [30.0]
    # Retries take tokens too.
    h.replies.script = [500, 200]
    assert (await h.sender.deliver(HOOK, PAYLOAD)).delivered
    assert h.sleeps == pytest.approx([30.0, 30.0, 1.0, 29.0])


async def test_the_url_never_appears_in_results_or_logs(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = harness(
        httpx.ConnectError(f"cannot reach {URL}"),
        httpx.Response(404, text=f"no such hook {URL}"),
    )
    result = await h.sender.deliver(HOOK, PAYLOAD)
    assert not result.delivered
    errors = " ".join(a.error or "" for a in result.attempts)
    assert "supersecret" not in errors
    assert "<team (hooks.example.org) url>" in errors
    assert "supersecret" not in caplog.text
    assert "team (hooks.example.org)" in caplog.text


async def test_an_unexpected_error_is_a_failure_not_a_crash(
    harness: Callable[..., Harness],
) -> None:
    h = harness(RuntimeError("bug in a transport"))
    result = await h.sender.deliver(HOOK, PAYLOAD)
    assert not result.delivered
    assert result.error == "RuntimeError: bug in a transport"
    assert h.sleeps == []


async def test_a_backlog_beyond_the_maximum_wait_is_not_sent(
    harness: Callable[..., Harness],
) -> None:
    h = harness(rate=1, max_wait=30)  # one a minute, wait at most 30 s
    assert (await h.sender.deliver(HOOK, PAYLOAD)).delivered
    result = await h.sender.deliver(HOOK, PAYLOAD)
    assert not result.delivered
    assert result.rate_limited
    assert result.attempts == ()
    assert "ALERT_MAX_RATE_LIMIT_WAIT_S" in (result.error or "")
    assert len(h.replies.requests) == 1
    h.clock_s += 31  # 29 s to go: within the maximum
    assert (await h.sender.deliver(HOOK, PAYLOAD)).delivered
    assert h.sleeps == [pytest.approx(29.0)]
