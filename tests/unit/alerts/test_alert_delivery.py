"""The delivery loop against a real HTTP server on 127.0.0.1 (tests/webhook_receiver.py):
plain JSON webhooks through httpx, Apprise targets through Apprise's own plugins, which make
the requests themselves. Retry sleeps are recorded instead of slept.

Apprise's Slack, Discord and Telegram plugins send to their service's fixed host, so for
them ``load_notifier`` is wrapped to point the plugin's base URL (a class constant) at the
local server: the plugin still builds the message and makes the request; only the host
differs. ``json://``, ``form://``, ``xml://``, ``ntfy://`` and ``mmost://`` (Mattermost) URLs
name their host, so they reach the local server as configured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import apprise
import httpx
import pytest
import pytest_asyncio
from apprise.plugins import N_MGR

from app.alerts.config import WebhookConfig
from app.alerts.delivery import WebhookSender
from app.alerts.event import parse_opportunity
from app.alerts.formats import Notification, build_notification
from app.alerts.retry import AttemptOutcome, RetryPolicy
from app.alerts.targets import load_notifier
from tests.unit.alerts.alert_events import opportunity_event
from tests.webhook_receiver import Receiver, Reply, closed_port, running_receiver

OPENED = parse_opportunity(opportunity_event(title="Mug <b>@everyone</b> & *bold*"))
ALERT_ID = "cd" * 32


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def hook(name: str, url: str, **fields: Any) -> WebhookConfig:
    return WebhookConfig.model_validate({"name": name, "url": url, **fields})


def notification(webhook: WebhookConfig) -> Notification:
    return build_notification(webhook, OPENED, ALERT_ID)


def pointed_at(receiver: Receiver) -> Callable[[str, float], apprise.Apprise]:
    """``load_notifier`` with Slack's, Discord's and Telegram's API base URL on ``receiver``."""

    def load(url: str, timeout_s: float) -> apprise.Apprise:
        notifier = load_notifier(url, timeout_s)
        plugin = notifier[0]
        if isinstance(plugin, N_MGR["slack"]):
            plugin.webhook_url = receiver.url("/slack-api")
        elif isinstance(plugin, N_MGR["discord"]):
            plugin.notify_url = receiver.url("/discord-api")
        elif isinstance(plugin, N_MGR["tgram"]):
            plugin.notify_url = receiver.url("/telegram-api/bot")
        return notifier

    return load


class Harness:
    def __init__(
        self,
        receiver: Receiver,
        *,
        rate: float = 0,
        attempts: int = 4,
        max_wait: float | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.sleeps: list[float] = []
        self.clock_s = 0.0
        self.t = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self.sender = WebhookSender(
            self.client,
            RetryPolicy(max_attempts=attempts, backoff_base_s=1.0, backoff_max_s=30.0),
            rate,
            max_wait,
            timeout,
            sleep=self._sleep,
            now=lambda: self.t + timedelta(seconds=self.clock_s),
            clock=lambda: self.clock_s,
            load_notifier=pointed_at(receiver),
        )

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock_s += seconds


@pytest_asyncio.fixture(loop_scope="function")
async def harness(receiver: Receiver) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**kwargs: Any) -> Harness:
        h = Harness(receiver, **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.client.aclose()


# --- plain JSON webhooks (httpx) ----------------------------------------------------------


async def test_json_webhook_gets_the_documented_payload(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness()
    webhook = hook("pipeline", receiver.url("/hook"))
    receiver.script["/hook"] = [Reply(204, b"")]
    result = await h.sender.deliver(webhook, notification(webhook))
    assert result.delivered
    assert result.http_status == 204
    assert result.sent_at == h.t
    (request,) = receiver.to("/hook")
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == notification(webhook).payload
    assert request.json()["event"]["asin"] == OPENED.asin
    assert h.sleeps == []


async def test_5xx_and_connection_errors_are_retried_with_backoff(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness(timeout=0.3)
    webhook = hook("pipeline", receiver.url("/hook"))
    receiver.script["/hook"] = [Reply(500, b"nope"), Reply(delay_s=1.0), Reply(200)]
    result = await h.sender.deliver(webhook, notification(webhook))
    assert result.delivered
    assert len(receiver.to("/hook")) == 3
    assert h.sleeps == [1.0, 2.0]
    log = [(a.number, a.outcome, a.http_status, a.wait_s) for a in result.attempts]
    assert log == [
        (1, AttemptOutcome.RETRY, 500, 1.0),
        (2, AttemptOutcome.RETRY, None, 2.0),
        (3, AttemptOutcome.DELIVERED, 200, None),
    ]
    assert result.attempts[0].error == "HTTP 500: nope"
    assert (result.attempts[1].error or "").startswith("ReadTimeout")
    refused = hook("down", f"http://127.0.0.1:{closed_port()}/hook")
    result = await h.sender.deliver(refused, notification(refused))
    assert not result.delivered
    assert [a.outcome for a in result.attempts] == [AttemptOutcome.RETRY] * 3 + [
        AttemptOutcome.RETRY
    ]
    assert (result.attempts[0].error or "").startswith("ConnectError")


async def test_gives_up_after_max_attempts(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness(attempts=3)
    webhook = hook("pipeline", receiver.url("/hook"))
    receiver.script["/hook"] = [Reply(503)] * 4
    result = await h.sender.deliver(webhook, notification(webhook))
    assert not result.delivered
    assert len(receiver.to("/hook")) == 3
    assert result.http_status == 503
    assert result.sent_at is None
    assert h.sleeps == [1.0, 2.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 301])
async def test_other_4xx_fail_at_once(
    receiver: Receiver, harness: Callable[..., Harness], status: int
) -> None:
    h = harness()
    webhook = hook("pipeline", receiver.url("/hook"))
    receiver.script["/hook"] = [Reply(status, headers={"Location": "/elsewhere"})]
    result = await h.sender.deliver(webhook, notification(webhook))
    assert not result.delivered
    assert len(receiver.requests) == 1
    assert result.http_status == status
    assert result.attempts[0].outcome is AttemptOutcome.FAIL
    assert h.sleeps == []


async def test_429_honours_retry_after(receiver: Receiver, harness: Callable[..., Harness]) -> None:
    h = harness()
    webhook = hook("pipeline", receiver.url("/hook"))
    receiver.script["/hook"] = [
        Reply(429, headers={"Retry-After": "7"}),
        Reply(429, b'{"ok": false, "parameters": {"retry_after": 3}}'),
        Reply(429, b'{"message": "slow down", "retry_after": 0.25}'),
    ]
    result = await h.sender.deliver(webhook, notification(webhook))
    assert result.delivered
    assert h.sleeps == [7.0, 3.0, 0.25]


async def test_retry_after_beyond_the_maximum_gives_up(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness()
    webhook = hook("pipeline", receiver.url("/hook"))
    receiver.script["/hook"] = [Reply(429, headers={"Retry-After": "3600"})]
    result = await h.sender.deliver(webhook, notification(webhook))
    assert not result.delivered
    assert len(receiver.requests) == 1
    assert h.sleeps == []


# --- Apprise targets ----------------------------------------------------------------------


async def test_apprise_json_target_gets_apprise_s_json_shape(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness()
    webhook = hook("apprise-json", f"json://127.0.0.1:{receiver.port}/apprise")
    assert webhook.apprise_url is not None
    result = await h.sender.deliver(webhook, notification(webhook))
    assert result.delivered
    assert [(a.outcome, a.http_status) for a in result.attempts] == [
        (AttemptOutcome.DELIVERED, None)
    ]
    (request,) = receiver.to("/apprise")
    assert request.headers["user-agent"] == "EU Arbitrage Tracker"
    body = request.json()
    assert body["title"] == "New opportunity DE → FR: €8.88 profit, ROI 40.4 %"
    assert body["type"] == "success"
    message = body["message"]
    assert message == notification(webhook).body
    assert "Mug <b>@\u200beveryone</b> & *bold* (ASIN B0ALERT001)" in message
    assert f"Buy on amazon.de at €20.00: {OPENED.buy_url}" in message
    assert f"Sell on amazon.fr at €50.00: {OPENED.sell_url}" in message


async def test_apprise_form_and_xml_targets(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness()
    form = hook("form", f"form://127.0.0.1:{receiver.port}/form")
    xml = hook("xml", f"xml://127.0.0.1:{receiver.port}/xml")
    for webhook in (form, xml):
        assert (await h.sender.deliver(webhook, notification(webhook))).delivered
    (form_request,) = receiver.to("/form")
    assert form_request.form()["title"].startswith("New opportunity DE → FR")
    assert "Mug <b>@\u200beveryone</b>" in form_request.form()["message"]
    (xml_request,) = receiver.to("/xml")
    root = ElementTree.fromstring(xml_request.body)
    texts = {element.tag.split("}")[-1]: element.text for element in root.iter()}
    assert texts["Subject"] == "New opportunity DE → FR: €8.88 profit, ROI 40.4 %"
    assert "Mug <b>@\u200beveryone</b>" in (texts["Message"] or "")


async def test_apprise_ntfy_and_mattermost_targets_on_their_own_hosts(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness()
    ntfy = hook("ntfy", f"ntfy://alerts:s3cretpassword@127.0.0.1:{receiver.port}/arbitrage")
    mattermost = hook("mattermost", f"mmost://127.0.0.1:{receiver.port}/mattermosttoken42")
    for webhook in (ntfy, mattermost):
        assert (await h.sender.deliver(webhook, notification(webhook))).delivered
    (ntfy_request,) = receiver.to("/")
    assert ntfy_request.headers["authorization"].startswith("Basic ")
    assert ntfy_request.json()["topic"] == "arbitrage"
    assert ntfy_request.json()["title"].startswith("New opportunity DE → FR")
    (mm_request,) = receiver.to("/hooks/mattermosttoken42")
    assert mm_request.json()["username"] == "EU Arbitrage Tracker"
    assert "€8.88 profit" in mm_request.json()["text"]
    assert "@\u200beveryone" in mm_request.json()["text"]


async def test_legacy_slack_discord_and_telegram_entries_go_through_apprise_s_plugins(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness()
    slack = hook(
        "team",
        "https://hooks.slack.com/services/T0SLACK01/B0SLACK01/slacksecrettoken123",
        format="slack",
    )
    discord = hook(
        "gamers",
        "https://discord.com/api/webhooks/417429632418316298/discordsecrettoken123",
        format="discord",
    )
    telegram = hook(
        "phone",
        "https://api.telegram.org/bot123456:telegramsecret123/sendMessage",
        format="telegram",
        chat_id="-1001234567890",
    )
    for webhook in (slack, discord, telegram):
        assert webhook.apprise_url is not None
        assert (await h.sender.deliver(webhook, notification(webhook))).delivered

    (slack_request,) = receiver.to("/slack-api/T0SLACK01/B0SLACK01/slacksecrettoken123")
    (attachment,) = slack_request.json()["attachments"]
    assert attachment["title"] == "New opportunity DE → FR: €8.88 profit, ROI 40.4 %"
    # Apprise escapes Slack's control characters: no <!channel>-style injection from a title.
    assert "Mug &lt;b&gt;@\u200beveryone&lt;/b&gt; &amp; *bold*" in attachment["text"]

    (discord_request,) = receiver.to("/discord-api/417429632418316298/discordsecrettoken123")
    content = discord_request.json()["content"]
    assert content.startswith("New opportunity DE → FR: €8.88 profit, ROI 40.4 %")
    assert "@everyone" not in content  # defused with a zero-width space
    assert "allow_mentions" not in discord_request.json()

    (telegram_request,) = receiver.to("/telegram-api/bot123456:telegramsecret123/sendMessage")
    payload = telegram_request.json()
    assert payload["chat_id"] == -1001234567890
    assert payload["parse_mode"] == "HTML"
    assert payload["text"].startswith("<b>New opportunity DE → FR: €8.88 profit, ROI 40.4 %</b>")
    assert "Mug &lt;b&gt;@\u200beveryone&lt;/b&gt; &amp; *bold*" in payload["text"]


async def test_apprise_failures_are_classified_from_apprise_s_report(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness(attempts=3)
    webhook = hook("apprise-json", f"json://127.0.0.1:{receiver.port}/apprise")
    receiver.script["/apprise"] = [Reply(502), Reply(429)]
    result = await h.sender.deliver(webhook, notification(webhook))
    assert result.delivered
    assert [(a.outcome, a.http_status, a.wait_s) for a in result.attempts] == [
        (AttemptOutcome.RETRY, 502, 1.0),
        (AttemptOutcome.RETRY, 429, 2.0),
        (AttemptOutcome.DELIVERED, None, None),
    ]
    assert "error=502" in (result.attempts[0].error or "")
    assert (result.attempts[0].error or "").startswith("JSON: ")
    assert len(receiver.to("/apprise")) == 3

    # A 4xx fails for good; Slack answering 200 without "ok" is a failure Apprise reports.
    receiver.script["/apprise"] = [Reply(403)]
    result = await h.sender.deliver(webhook, notification(webhook))
    assert [(a.outcome, a.http_status) for a in result.attempts] == [(AttemptOutcome.FAIL, 403)]
    slack = hook("team", "https://hooks.slack.com/services/T0/B0/slacksecret", format="slack")
    receiver.script["/slack-api/T0/B0/slacksecret"] = [Reply(200, b"invalid_payload")]
    result = await h.sender.deliver(slack, notification(slack))
    assert [(a.outcome, a.http_status) for a in result.attempts] == [(AttemptOutcome.FAIL, 200)]
    assert h.sleeps == [1.0, 2.0]


async def test_apprise_connection_errors_and_timeouts_are_retried(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness(attempts=2, timeout=0.3)
    down = hook("down", f"json://127.0.0.1:{closed_port()}/apprise")
    result = await h.sender.deliver(down, notification(down))
    assert [(a.outcome, a.http_status) for a in result.attempts] == [
        (AttemptOutcome.RETRY, None),
        (AttemptOutcome.RETRY, None),
    ]
    assert "Connection error" in (result.attempts[0].error or "")
    slow = hook("slow", f"json://127.0.0.1:{receiver.port}/slow")
    receiver.script["/slow"] = [Reply(delay_s=1.0)]
    result = await h.sender.deliver(slow, notification(slow))
    assert result.delivered
    assert [a.outcome for a in result.attempts] == [
        AttemptOutcome.RETRY,
        AttemptOutcome.DELIVERED,
    ]


async def test_apprise_delivery_does_not_block_the_event_loop(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness()
    webhook = hook("slow", f"json://127.0.0.1:{receiver.port}/slow")
    receiver.script["/slow"] = [Reply(delay_s=0.5)]
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await h.sender.deliver(webhook, notification(webhook))
    elapsed = loop.time() - started
    done.set()
    await task
    assert result.delivered
    assert elapsed >= 0.5
    assert ticks >= 20  # the loop kept running while Apprise's thread waited on the server


async def test_rate_limit_spaces_requests_per_webhook_for_both_kinds(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness(rate=2)  # two a minute, bursts of two
    webhook = hook("pipeline", receiver.url("/hook"))
    other = hook("apprise-json", f"json://127.0.0.1:{receiver.port}/apprise")
    for _ in range(3):
        assert (await h.sender.deliver(webhook, notification(webhook))).delivered
    assert h.sleeps == [30.0]
    for _ in range(3):  # its own bucket
        assert (await h.sender.deliver(other, notification(other))).delivered
    assert h.sleeps == [30.0, 30.0]
    # Retries take tokens too.
    receiver.script["/hook"] = [Reply(500)]
    assert (await h.sender.deliver(webhook, notification(webhook))).delivered
    assert h.sleeps == pytest.approx([30.0, 30.0, 1.0, 29.0])


async def test_a_backlog_beyond_the_maximum_wait_is_not_sent(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness(rate=1, max_wait=30)  # one a minute, wait at most 30 s
    webhook = hook("apprise-json", f"json://127.0.0.1:{receiver.port}/apprise")
    assert (await h.sender.deliver(webhook, notification(webhook))).delivered
    result = await h.sender.deliver(webhook, notification(webhook))
    assert not result.delivered
    assert result.rate_limited
    assert result.attempts == ()
    assert "ALERT_MAX_RATE_LIMIT_WAIT_S" in (result.error or "")
    assert len(receiver.requests) == 1
    h.clock_s += 31  # 29 s to go: within the maximum
    assert (await h.sender.deliver(webhook, notification(webhook))).delivered
    assert h.sleeps == [pytest.approx(29.0)]


async def test_secrets_never_appear_in_results_or_logs(
    receiver: Receiver, harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = harness(attempts=2)
    plain = hook("team", receiver.url("/services/supersecrettoken"))
    receiver.script["/services/supersecrettoken"] = [
        Reply(404, b"no such hook /services/supersecrettoken")
    ]
    result = await h.sender.deliver(plain, notification(plain))
    assert not result.delivered
    assert "supersecret" not in (result.error or "")
    assert "<team (127.0.0.1) url>" in (result.error or "")

    telegram = hook(
        "phone",
        "https://api.telegram.org/bot123456:supersecretbot/sendMessage",
        format="telegram",
        chat_id=42,
    )
    receiver.script["/telegram-api/bot123456:supersecretbot/sendMessage"] = [Reply(500)] * 2
    result = await h.sender.deliver(telegram, notification(telegram))
    assert not result.delivered
    assert [a.http_status for a in result.attempts] == [500, 500]
    mattermost = hook("mm", f"mmost://127.0.0.1:{closed_port()}/supersecretmm")
    result = await h.sender.deliver(mattermost, notification(mattermost))
    errors = " ".join(a.error or "" for a in result.attempts)
    assert "supersecret" not in errors
    assert "supersecret" not in caplog.text
    assert "phone (api.telegram.org)" in caplog.text
    assert "mm (mmost)" in caplog.text


async def test_an_unexpected_error_is_a_failure_not_a_crash(
    receiver: Receiver, harness: Callable[..., Harness]
) -> None:
    h = harness()

    def broken(url: str, timeout_s: float) -> apprise.Apprise:
        raise RuntimeError("bug in a loader")

    h.sender.load_notifier = broken
    webhook = hook("apprise-json", f"json://127.0.0.1:{receiver.port}/apprise")
    result = await h.sender.deliver(webhook, notification(webhook))
    assert not result.delivered
    assert result.error == "RuntimeError: bug in a loader"
    assert h.sleeps == []
    assert receiver.requests == []
