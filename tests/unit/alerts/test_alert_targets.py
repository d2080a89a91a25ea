"""Which Apprise URL a webhook entry is delivered through, and the URLs refused (no network:
Apprise only parses and loads the URLs here)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from apprise.plugins import N_MGR
from pydantic import ValidationError

from app.alerts.config import AlertSettings, WebhookConfig
from app.alerts.targets import (
    TargetError,
    WebhookFormat,
    apprise_url,
    load_notifier,
    recognised_service,
    safe_host,
    secret_fragments,
)

SLACK = "https://hooks.slack.com/services/T0SLACK01/B0SLACK01/supersecretslack"
DISCORD = "https://discord.com/api/webhooks/417429632418316298/supersecretdiscord"
TELEGRAM = "https://api.telegram.org/bot123456:supersecrettelegram/sendMessage"


def webhook(**fields: Any) -> WebhookConfig:
    return WebhookConfig.model_validate({"name": "hook", **fields})


@pytest.mark.parametrize(
    ("fields", "fmt", "target", "service"),
    [
        # Entries written before Apprise.
        ({"url": "https://example.org/hook"}, "json", None, "JSON webhook"),
        ({"url": SLACK, "format": "slack"}, "slack", SLACK, "Slack"),
        ({"url": "slack://T0SLACK01/B0SLACK01/supersecret", "format": "slack"}, "slack", None, ""),
        ({"url": DISCORD, "format": "discord"}, "discord", DISCORD, "Discord"),
        (
            {"url": TELEGRAM, "format": "telegram", "chat_id": -1001234567890},
            "telegram",
            "tgram://123456:supersecrettelegram/-1001234567890",
            "Telegram",
        ),
        (
            {"url": TELEGRAM, "format": "telegram", "chat_id": "@arbitrage_alerts"},
            "telegram",
            "tgram://123456:supersecrettelegram/@arbitrage_alerts",
            "Telegram",
        ),
        # Apprise URLs: the format defaults to apprise.
        ({"url": "tgram://123456:supersecret/4242"}, "apprise", None, "Telegram"),
        ({"url": "mailtos://user:supersecret@gmail.com"}, "apprise", None, "E-Mail"),
        ({"url": "ntfys://supersecret-topic"}, "apprise", None, "ntfy"),
        ({"url": "pover://userkeysecret@apptokensecret"}, "apprise", None, "Pushover"),
        ({"url": "json://127.0.0.1:8080/hook"}, "apprise", None, "JSON"),
        ({"url": "jsons://example.org/hook"}, "apprise", None, "JSON"),
        ({"url": "form://example.org/hook"}, "apprise", None, "Form"),
        # A service's own https URL, given with format apprise.
        ({"url": SLACK, "format": "apprise"}, "apprise", SLACK, "Slack"),
        (
            {"url": "https://ntfy.sh/supersecret-topic", "format": "apprise"},
            "apprise",
            None,
            "ntfy",
        ),
    ],
)
def test_entries_map_to_apprise_urls(
    fields: dict[str, Any], fmt: str, target: str | None, service: str
) -> None:
    hook = webhook(**fields)
    assert hook.format is WebhookFormat(fmt)
    if fmt == "json":
        assert hook.apprise_url is None
    else:
        assert hook.apprise_url is not None
        expected = target or fields["url"]
        assert hook.apprise_url.get_secret_value() == expected
    if service:
        assert hook.service == service


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "foo://supersecret"}, "foo:// is not a URL scheme Apprise supports"),
        ({"url": "slack://supersecret"}, "Apprise cannot load this Slack URL"),
        ({"url": "supersecret"}, "url must be a URL with a scheme"),
        ({"url": "json://127.0.0.1/supersecret", "format": "json"}, 'format "json" is a plain'),
        (
            {"url": "https://example.org/supersecret", "format": "slack"},
            "needs a Slack webhook URL",
        ),
        ({"url": DISCORD, "format": "slack"}, "this one is Discord"),
        ({"url": SLACK, "format": "discord"}, "this one is Slack"),
        (
            {"url": "https://example.org/supersecret", "format": "apprise"},
            "Apprise does not recognise this https URL",
        ),
        (
            {"url": "https://example.org/bot1:supersecret/x", "format": "telegram", "chat_id": 1},
            "Bot API URL",
        ),
        ({"url": "tgram://1:supersecret/42", "format": "telegram", "chat_id": 1}, "Bot API URL"),
        ({"url": TELEGRAM, "format": "telegram"}, "needs a chat_id"),
        ({"url": "tgram://1:supersecret/42", "chat_id": 42}, "chat_id is for telegram"),
        ({"url": "tgram://123456:supersecret/4242/4343"}, "names 2 targets"),
        ({"url": "mailtos://u:supersecret@gmail.com?to=a@x.org,b@y.org"}, "names 2 targets"),
    ],
)
def test_bad_urls_are_refused_with_a_clear_error_that_does_not_echo_them(
    fields: dict[str, Any], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ValidationError) as caught:
        AlertSettings(webhooks=[{"name": "hook", **fields}])  # type: ignore[list-item]
    text = str(caught.value)
    assert message in text
    assert "webhook 'hook'" in text or "url" in text
    assert "supersecret" not in text
    assert "supersecret" not in caplog.text  # Apprise's own errors quote the URL: silenced


def test_the_telegram_bot_api_url_must_be_telegram_s() -> None:
    with pytest.raises(TargetError, match="Bot API URL"):
        apprise_url("http://api.telegram.org/bot1:x/sendMessage", WebhookFormat.TELEGRAM, 1)
    assert (
        apprise_url("https://api.telegram.org/bot1:x/sendMessage", WebhookFormat.TELEGRAM, -5)
        == "tgram://1:x/-5"
    )


def test_logs_show_the_host_of_http_urls_and_the_scheme_of_apprise_urls() -> None:
    assert safe_host(SLACK) == "hooks.slack.com"
    assert safe_host("tgram://123456:supersecret/4242") == "tgram"
    assert safe_host("mailtos://user:supersecret@gmail.com") == "mailtos"
    assert webhook(url="tgram://123456:supersecret/4242").label == "hook (tgram)"


def test_secret_fragments_cover_tokens_passwords_and_paths() -> None:
    fragments = secret_fragments("tgram://123456:supersecret/4242")
    assert "123456:supersecret" in fragments
    assert "supersecret" in fragments
    fragments = secret_fragments("mailtos://user:supersecret@gmail.com?to=me@example.org")
    assert "supersecret" in fragments
    assert "me@example.org" in fragments
    assert "gmail.com" not in fragments  # a host name, not a token
    assert "supersecretslack" in secret_fragments(SLACK)
    assert "hooks.slack.com" not in secret_fragments(SLACK)
    assert list(fragments) == sorted(fragments, key=len, reverse=True)


def test_loaded_notifiers_use_our_timeout_and_never_retry_themselves() -> None:
    notifier = load_notifier("json://127.0.0.1:9/hook?retry=3&rto=60", 2.5)
    (plugin,) = list(notifier)
    assert isinstance(plugin, N_MGR["json"])
    assert plugin.retry == 0
    assert (plugin.socket_connect_timeout, plugin.socket_read_timeout) == (2.5, 2.5)
    assert notifier.asset.app_id == "EU Arbitrage Tracker"


def test_a_service_url_given_as_a_json_webhook_is_recognised() -> None:
    assert recognised_service(SLACK) == "Slack"
    assert recognised_service("https://example.org/hook") is None
