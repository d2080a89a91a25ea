from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from app.alerts.cli import TEST_EVENT, alerts_cli
from app.alerts.event import parse_opportunity

runner = CliRunner()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Any]]]:
    received: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(404 if self.path == "/gone" else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_the_test_event_follows_the_contract() -> None:
    assert parse_opportunity(TEST_EVENT).profit_eur_cents == 926


def test_check_lists_webhooks_without_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = [
        {"name": "team", "url": "https://hooks.slack.com/services/supersecret", "format": "slack"},
        {
            "name": "phone",
            "url": "https://api.telegram.org/botsupersecret/sendMessage",
            "format": "telegram",
            "chat_id": 7,
            "markets": {"sell": ["FR", "IT"]},
        },
    ]
    monkeypatch.setenv("ALERT_WEBHOOKS", json.dumps(hooks))
    result = runner.invoke(alerts_cli, ["check"])
    assert result.exit_code == 0, result.output
    assert "team (hooks.slack.com): slack, profit >= €5.00, ROI >= 0.2" in result.output
    assert "phone (api.telegram.org): telegram" in result.output
    assert "sell FR,IT" in result.output
    assert "supersecret" not in result.output


def test_check_fails_on_invalid_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_WEBHOOKS", '[{"name": "x", "url": "ftp://supersecret"}]')
    result = runner.invoke(alerts_cli, ["check"])
    assert result.exit_code == 1
    assert "supersecret" not in result.output


def test_test_sends_a_marked_notification(
    monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, list[Any]]
) -> None:
    base, received = receiver
    hooks = [
        {"name": "ok", "url": f"{base}/ok"},
        {"name": "gone", "url": f"{base}/gone", "format": "discord"},
    ]
    monkeypatch.setenv("ALERT_WEBHOOKS", json.dumps(hooks))
    result = runner.invoke(alerts_cli, ["test", "--webhook", "ok"])
    assert result.exit_code == 0, result.output
    assert "ok (127.0.0.1): delivered after 1 attempt(s)" in result.output
    (path, body), *_ = received
    assert path == "/ok"
    assert body["event"]["title"].startswith("[TEST]")
    result = runner.invoke(alerts_cli, ["test"])
    assert result.exit_code == 1
    assert "gone (127.0.0.1): FAILED (HTTP 404: )" in result.output
