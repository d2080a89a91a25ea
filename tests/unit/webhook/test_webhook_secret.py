"""KEEPA_WEBHOOK_SECRET: usable secrets only (as API_TOKEN, and URL-safe), compared in
constant time, never shown."""

from __future__ import annotations

import secrets

import pytest
from pydantic import SecretStr

import app.webhook.secret as secret_module
from app.settings import Settings
from app.webhook.secret import SecretPath, webhook_secret_problem

GOOD = secrets.token_urlsafe(32)
PLACEHOLDER = "KEEPA_WEBHOOK_SECRET is a placeholder from an example, not a secret"
UNSAFE = "KEEPA_WEBHOOK_SECRET may hold only the characters A-Z a-z 0-9 - _ . ~"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "KEEPA_WEBHOOK_SECRET is not set"),
        ("", "KEEPA_WEBHOOK_SECRET is not set"),
        ("change-me", PLACEHOLDER),
        ("your-secret-" + "x" * 30, PLACEHOLDER),
        ("a" * 31, "KEEPA_WEBHOOK_SECRET is shorter than 32 characters"),
        ("a" * 31 + "/", UNSAFE),
        ("a" * 31 + "?", UNSAFE),
        ("é" * 32, UNSAFE),
        ("a" * 31 + " ", UNSAFE),
    ],
)
def test_unusable_secrets_are_refused_with_a_reason(value: str | None, problem: str) -> None:
    secret = None if value is None else SecretStr(value)
    assert webhook_secret_problem(secret) == problem
    with pytest.raises(ValueError, match="the webhook cannot start") as raised:
        SecretPath(secret)
    assert problem in str(raised.value)


@pytest.mark.parametrize("value", [GOOD, secrets.token_hex(16), "A-z0._~" * 5])
def test_random_url_safe_secrets_are_accepted(value: str) -> None:
    assert webhook_secret_problem(SecretStr(value)) is None
    path = SecretPath(SecretStr(value))
    assert path.matches(value)
    assert not path.matches(value[:-1])
    assert not path.matches(value + "a")
    assert not path.matches("")


def test_the_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = secrets.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(secret_module.secrets, "compare_digest", spy)
    path = SecretPath(SecretStr(GOOD))
    assert path.matches(GOOD)
    assert not path.matches("nope\udcff")  # a lone surrogate (undecodable path bytes)
    assert compared == [(GOOD.encode(), GOOD.encode()), (b"nope\xff", GOOD.encode())]


def test_the_secret_is_read_from_the_settings_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEEPA_WEBHOOK_SECRET", GOOD)
    settings = Settings()
    path = SecretPath.for_settings(settings)
    assert path.matches(GOOD)
    assert GOOD not in repr(path)
    assert GOOD not in repr(settings)
    assert GOOD not in str(settings.model_dump())
