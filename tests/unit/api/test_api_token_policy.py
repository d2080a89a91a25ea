"""A guessable API_TOKEN never enables writes: the placeholder ``change-me`` (and the like) and
anything shorter than 32 characters are treated as no token at all (503 for every write), the
API says so at start-up, and the token itself never reaches a log."""

from __future__ import annotations

import logging
import secrets

import pytest
from api_fakes import UnusedEs, client_with
from fastapi import HTTPException
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.api.config import ApiSettings
from app.api.deps import WRITES_DISABLED, api_token_problem, require_write_token
from app.api.main import create_app
from app.settings import Settings

#: Nothing listens here: the app's start-up fails to reach Elasticsearch at once and serves on.
NO_ELASTICSEARCH = "http://127.0.0.1:9"

PLACEHOLDERS = [
    "change-me",
    "CHANGE_ME",
    "changeme",
    # Long enough, but still an example value.
    "change-me-change-me-change-me-change-me",
    "replace-me-with-a-long-random-string-please",
]
SHORT = ["x", "s3cret-token", "a" * 31, secrets.token_urlsafe(16), "€" * 31]
GOOD = ["a" * 32, secrets.token_urlsafe(32), secrets.token_hex(16), "€" * 32]


def creds(token: str) -> HTTPAuthorizationCredentials:
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


@pytest.mark.parametrize("token", PLACEHOLDERS)
def test_a_placeholder_is_refused(token: str) -> None:
    problem = api_token_problem(SecretStr(token))
    assert problem is not None
    assert "placeholder" in problem
    with pytest.raises(HTTPException) as raised:
        require_write_token(Settings(api_token=token), creds(token))
    assert raised.value.status_code == 503
    assert raised.value.detail == WRITES_DISABLED


@pytest.mark.parametrize("token", SHORT)
def test_a_token_shorter_than_32_characters_is_refused(token: str) -> None:
    assert api_token_problem(SecretStr(token)) == "API_TOKEN is shorter than 32 characters"
    with pytest.raises(HTTPException) as raised:
        require_write_token(Settings(api_token=token), creds(token))
    assert raised.value.status_code == 503


@pytest.mark.parametrize("token", GOOD)
def test_32_characters_or_more_are_accepted(token: str) -> None:
    assert api_token_problem(SecretStr(token)) is None
    require_write_token(Settings(api_token=token), creds(token))


@pytest.mark.parametrize("token", [None, "", "change-me", "short-token"])
def test_writes_with_an_unusable_token_get_the_same_refusal_as_without_one(
    token: str | None,
) -> None:
    client = client_with(UnusedEs(), token=token)
    sent = token or "anything"
    for response in (
        client.post(
            "/watchlist",
            json={"asins": ["B0TESTAS1N"]},
            headers={"Authorization": f"Bearer {sent}"},
        ),
        client.delete("/watchlist/B0TESTAS1N", headers={"Authorization": f"Bearer {sent}"}),
    ):
        assert response.status_code == 503, response.text
        assert response.json()["detail"] == WRITES_DISABLED


def _start_and_write(token: str | None, caplog: pytest.LogCaptureFixture) -> tuple[int, str]:
    """Start the real app (lifespan included), try one write with that token, stop it; the
    status and detail of the write."""
    settings = Settings(api_token=token, elasticsearch_url=NO_ELASTICSEARCH)
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(settings, ApiSettings())) as client:
        response = client.delete(
            "/watchlist/B0TESTAS1N", headers={"Authorization": f"Bearer {token or ''}"}
        )
    return response.status_code, str(response.json()["detail"])


def _startup_messages(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "app.api.deps"]


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("change-me", "API_TOKEN is a placeholder"),
        ("short-but-not-a-placeholder", "API_TOKEN is shorter than 32 characters"),
    ],
)
def test_start_up_warns_why_writes_are_disabled_without_logging_the_token(
    token: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert _start_and_write(token, caplog) == (503, WRITES_DISABLED)
    (message,) = _startup_messages(caplog)
    assert message.levelno == logging.WARNING
    text = message.getMessage()
    assert text.startswith("write endpoints disabled: ")
    assert reason in text
    assert "secrets.token_urlsafe(32)" in text  # how to make a good one
    assert token not in caplog.text
    assert all(token not in r.getMessage() for r in caplog.records)


def test_start_up_says_writes_are_enabled_and_never_logs_a_good_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = secrets.token_urlsafe(32)
    # The write passes authentication and then fails on the absent Elasticsearch.
    status, detail = _start_and_write(token, caplog)
    assert status == 503
    assert detail != WRITES_DISABLED
    (message,) = _startup_messages(caplog)
    assert message.levelno == logging.INFO
    assert message.getMessage().startswith("write endpoints enabled")
    assert caplog.records, "nothing was logged at all"
    assert token not in caplog.text
    assert all(token not in r.getMessage() for r in caplog.records)


def test_start_up_without_a_token_says_writes_are_disabled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert _start_and_write(None, caplog) == (503, WRITES_DISABLED)
    (message,) = _startup_messages(caplog)
    assert message.levelno == logging.INFO
    assert message.getMessage() == "write endpoints disabled: API_TOKEN is not set"
