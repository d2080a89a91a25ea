from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from app.alerts.config import AlertSettings, WebhookConfig, WebhookFormat
from app.domain.markets import Market

SLACK_URL = "https://hooks.slack.com/services/T000/B000/supersecrettoken"
TELEGRAM_URL = "https://api.telegram.org/bot123:supersecrettoken/sendMessage"


def test_webhooks_are_read_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ALERT_WEBHOOKS",
        json.dumps(
            [
                {"name": "generic", "url": "http://127.0.0.1:9/hook"},
                {
                    "name": "team",
                    "url": SLACK_URL,
                    "format": "slack",
                    "min_profit_eur_cents": 800,
                    "min_roi": 0.25,
                    "markets": {"buy": ["de", "UK"], "sell": ["FR"]},
                },
                {"name": "phone", "url": TELEGRAM_URL, "format": "telegram", "chat_id": -100123},
            ]
        ),
    )
    monkeypatch.setenv("ALERT_RATE_LIMIT_PER_MINUTE", "6")
    monkeypatch.setenv("ALERT_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("ALERT_BACKOFF_BASE_S", "0.5")
    settings = AlertSettings()
    generic, team, phone = settings.webhooks
    assert generic.format is WebhookFormat.JSON
    assert generic.apprise_url is None
    assert (generic.min_profit_eur_cents, generic.min_roi) == (500, Decimal("0.2"))
    assert generic.markets.buy is None
    assert generic.markets.sell is None
    assert team.format is WebhookFormat.SLACK
    assert team.service == "Slack"
    assert team.min_roi == Decimal("0.25")
    assert team.markets.buy == {Market.DE, Market.GB}
    assert team.markets.sell == {Market.FR}
    assert phone.chat_id == -100123
    assert phone.service == "Telegram"
    assert (settings.rate_limit_per_minute, settings.max_attempts) == (6, 3)
    assert settings.backoff_base_s == 0.5


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "WEBHOOKS",
        "RATE_LIMIT_PER_MINUTE",
        "MAX_RATE_LIMIT_WAIT_S",
        "MAX_ATTEMPTS",
        "BACKOFF_BASE_S",
        "BACKOFF_MAX_S",
        "TIMEOUT_S",
    ):
        monkeypatch.delenv(f"ALERT_{name}", raising=False)
    settings = AlertSettings()
    assert settings.webhooks == []
    assert settings.rate_limit_per_minute == 20
    assert settings.max_attempts == 5
    assert settings.backoff_base_s == 1.0
    assert settings.backoff_max_s == 60.0
    assert settings.max_rate_limit_wait_s == 300.0
    assert settings.timeout_s == 10.0


def test_urls_are_secret_and_logs_use_name_and_host() -> None:
    webhook = WebhookConfig(name="team", url=SLACK_URL, format="slack")  # type: ignore[arg-type]
    assert "supersecret" not in repr(webhook)
    assert "supersecret" not in str(webhook.model_dump())
    assert webhook.label == "team (hooks.slack.com)"
    assert webhook.host == "hooks.slack.com"
    assert webhook.url.get_secret_value() == SLACK_URL


@pytest.mark.parametrize(
    ("webhook", "message"),
    [
        ({"name": "t", "url": TELEGRAM_URL, "format": "telegram"}, "needs a chat_id"),
        ({"name": "s", "url": SLACK_URL, "format": "slack", "chat_id": 1}, "telegram webhooks"),
        ({"name": "x", "url": "ftp://example.org/supersecret"}, "ftp:// is not a URL scheme"),
        ({"name": "x", "url": "supersecret"}, "url must be a URL with a scheme"),
        ({"name": "x", "url": SLACK_URL, "format": "teams"}, "format"),
        ({"name": "has space", "url": SLACK_URL}, "name"),
        ({"name": "x", "url": SLACK_URL, "min_roi": -0.1}, "min_roi"),
        ({"name": "x", "url": SLACK_URL, "markets": {"buy": []}}, "empty market list"),
        ({"name": "x", "url": SLACK_URL, "markets": {"buy": ["US"]}}, "US"),
        ({"name": "x", "url": SLACK_URL, "colour": "red"}, "colour"),
    ],
)
def test_invalid_webhooks_are_rejected_without_echoing_the_url(
    webhook: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        AlertSettings(webhooks=[webhook])  # type: ignore[list-item]
    text = str(caught.value)
    assert message in text
    assert "supersecret" not in text


def test_webhook_names_must_be_unique() -> None:
    hooks = [{"name": "a", "url": SLACK_URL}, {"name": "a", "url": SLACK_URL}]
    with pytest.raises(ValidationError, match="unique"):
        AlertSettings(webhooks=hooks)  # type: ignore[arg-type]


def test_malformed_json_does_not_echo_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_WEBHOOKS", f'[{{"name": "a", "url": "{SLACK_URL}"')
    with pytest.raises(SettingsError) as caught:
        AlertSettings()
    assert "supersecret" not in str(caught.value)
