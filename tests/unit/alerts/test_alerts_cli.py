from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from app.alerts.cli import TEST_EVENT, alerts_cli
from app.alerts.event import parse_opportunity
from tests.webhook_receiver import Receiver, Reply, running_receiver

runner = CliRunner()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        r.script["/gone"] = [Reply(404, b"")]
        yield r


def test_the_test_event_follows_the_contract() -> None:
    # DE 20.00 -> FR 50.00 on 2026-01-01 (DSF of a DE-established seller on FR until
    # 2026-03-19: 2 % of 750 = 15 + 2 % of 300 = 6), storage (FR, January) 0.0015 m3 x 2865
    # = 4.2975 -> 4, VAT on fees 20 % x (750 + 300 + 21 + 4) = 215 (shown):
    # 4167 - 750 - 300 - 21 - 4 - 510 - 1681 = 901; ROI 901 / 2195 = 0.41048 -> 0.4105,
    # margin 901 / 4167 = 0.21622 -> 0.2162
    assert parse_opportunity(TEST_EVENT).profit_eur_cents == 901


def test_check_lists_webhooks_without_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = [
        {
            "name": "team",
            "url": "https://hooks.slack.com/services/T0/B0/supersecret",
            "format": "slack",
        },
        {
            "name": "phone",
            "url": "https://api.telegram.org/bot1:supersecret/sendMessage",
            "format": "telegram",
            "chat_id": 7,
            "markets": {"sell": ["FR", "IT"]},
        },
        {"name": "mail", "url": "mailtos://me:supersecret@gmail.com"},
        {"name": "pipeline", "url": "https://example.org/supersecret"},
        {"name": "oops", "url": "https://hooks.slack.com/services/T0/B0/supersecret"},
    ]
    monkeypatch.setenv("ALERT_WEBHOOKS", json.dumps(hooks))
    result = runner.invoke(alerts_cli, ["check"])
    assert result.exit_code == 0, result.output
    assert (
        "team (hooks.slack.com): slack (Apprise Slack), profit >= €5.00, ROI >= 0.2"
        in result.output
    )
    assert "phone (api.telegram.org): telegram (Apprise Telegram)" in result.output
    assert "sell FR,IT" in result.output
    assert "mail (mailtos): apprise (Apprise E-Mail)" in result.output
    assert "pipeline (example.org): json (JSON POST)" in result.output
    assert "oops (hooks.slack.com): json (JSON POST)" in result.output
    assert "note: Apprise knows this URL as Slack; it gets the JSON payload" in result.output
    assert "supersecret" not in result.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://supersecret", "ftp:// is not a URL scheme Apprise supports"),
        ("slack://supersecret", "Apprise cannot load this Slack URL"),
        ("tgram://1:supersecret/2/3", "this Telegram URL names 2 targets"),
    ],
)
def test_check_refuses_a_bad_url_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("ALERT_WEBHOOKS", json.dumps([{"name": "x", "url": url}]))
    result = runner.invoke(alerts_cli, ["check"])
    assert result.exit_code == 1
    assert "invalid ALERT_* configuration" in result.output
    assert f"webhook 'x': {message}" in result.output
    assert "supersecret" not in result.output


def test_test_sends_a_marked_notification(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    hooks = [
        {"name": "ok", "url": receiver.url("/ok")},
        {"name": "apprise", "url": f"json://127.0.0.1:{receiver.port}/apprise"},
        {"name": "gone", "url": f"json://127.0.0.1:{receiver.port}/gone"},
    ]
    monkeypatch.setenv("ALERT_WEBHOOKS", json.dumps(hooks))
    result = runner.invoke(alerts_cli, ["test", "--webhook", "ok"])
    assert result.exit_code == 0, result.output
    assert "ok (127.0.0.1): delivered after 1 attempt(s)" in result.output
    (request,) = receiver.requests
    assert request.path == "/ok"
    assert request.json()["event"]["title"].startswith("[TEST]")
    result = runner.invoke(alerts_cli, ["test"])
    assert result.exit_code == 1
    assert "apprise (json): delivered after 1 attempt(s)" in result.output
    assert "[TEST] Arbitrage alert test" in receiver.to("/apprise")[0].json()["message"]
    assert "gone (json): FAILED (JSON: Failed to send JSON POST notification" in result.output
    assert "error=404" in result.output
