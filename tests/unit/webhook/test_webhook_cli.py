"""``arbitrage webhook``: refuses to start without a usable secret (never printing it), and
serves the receiver's factory on WEBHOOK_HOST:WEBHOOK_PORT (127.0.0.1:8090 by default)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from app.cli import cli
from app.settings import get_settings

runner = CliRunner()

GOOD = "Zk3q9T7mXbW1rV5sN8cJ2hL6pD4fG0aYxxxx"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append({"app": app, **kwargs}))
    for name in ("WEBHOOK_HOST", "WEBHOOK_PORT", "KEEPA_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()


@pytest.mark.parametrize("secret", [None, "change-me", "s3cr3t-tok", GOOD + "/"])
def test_no_usable_secret_no_receiver(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    if secret is not None:
        monkeypatch.setenv("KEEPA_WEBHOOK_SECRET", secret)
    result = runner.invoke(cli, ["webhook"])
    assert result.exit_code == 2
    assert "KEEPA_WEBHOOK_SECRET" in result.output
    assert "token_urlsafe" in result.output
    if secret:
        assert secret not in result.output
    assert served == []


def test_the_receiver_is_served_on_loopback_by_default(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_WEBHOOK_SECRET", GOOD)
    result = runner.invoke(cli, ["webhook"])
    assert result.exit_code == 0, result.output
    [call] = served
    assert call["app"] == "app.webhook.main:create_app"
    assert call["factory"] is True
    assert (call["host"], call["port"]) == ("127.0.0.1", 8090)
    assert GOOD not in result.output


def test_host_and_port_from_settings_or_options(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_WEBHOOK_SECRET", GOOD)
    monkeypatch.setenv("WEBHOOK_HOST", "0.0.0.0")
    monkeypatch.setenv("WEBHOOK_PORT", "9999")
    assert runner.invoke(cli, ["webhook"]).exit_code == 0
    assert runner.invoke(cli, ["webhook", "--host", "127.0.0.2", "--port", "7000"]).exit_code == 0
    assert [(c["host"], c["port"]) for c in served] == [("0.0.0.0", 9999), ("127.0.0.2", 7000)]
