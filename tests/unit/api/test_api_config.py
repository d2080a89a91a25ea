"""``CORS_ORIGINS``: comma list or JSON array; CORS headers only for configured origins."""

from __future__ import annotations

import pytest
from api_fakes import UnusedEs, client_with
from fastapi import FastAPI

from app.api.config import ApiSettings


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("", []),
        ("http://localhost:8501", ["http://localhost:8501"]),
        (" http://a.example , http://b.example,", ["http://a.example", "http://b.example"]),
        ('["http://a.example", "http://b.example"]', ["http://a.example", "http://b.example"]),
    ],
)
def test_cors_origins_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: str, expected: list[str]
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", env)
    assert ApiSettings().cors_origins == expected


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    settings = ApiSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.cors_origins == []
    assert settings.health_cache_s == 5.0
    assert settings.health_timeout_s == 3.0


def preflight(origin: str) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "GET"}


def test_cors_allows_only_configured_origins() -> None:
    client = client_with(UnusedEs(), cors_origins=["http://localhost:8501"])
    ok = client.options("/opportunities", headers=preflight("http://localhost:8501"))
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "http://localhost:8501"
    other = client.options("/opportunities", headers=preflight("http://evil.example"))
    assert "access-control-allow-origin" not in other.headers


def test_no_cors_headers_by_default() -> None:
    client = client_with(UnusedEs())
    response = client.get("/openapi.json", headers={"Origin": "http://localhost:8501"})
    assert "access-control-allow-origin" not in response.headers


def test_the_module_level_app_is_built_lazily() -> None:
    import app.api.main as main_module

    assert isinstance(main_module.app, FastAPI)
    assert main_module.app is main_module.app
    with pytest.raises(AttributeError):
        _ = main_module.no_such_thing
