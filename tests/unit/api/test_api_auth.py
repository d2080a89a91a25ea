"""Write endpoints: a bearer token from the environment, compared in constant time; no token
configured = writes refused, never open. Reads need no token."""

from __future__ import annotations

from typing import Any

import pytest
from api_fakes import TOKEN, UnusedEs, client_with
from fastapi import HTTPException
from fastapi.security import HTTPAuthorizationCredentials

from app.api.deps import require_write_token
from app.settings import Settings

#: Non-ASCII on purpose, and long enough to enable writes (32+ characters).
UNICODE_TOKEN = "clé-secrète-€-assez-longue-pour-écrire"


class DeletingEs:
    """Enough of an Elasticsearch client for ``DELETE /watchlist/{asin}`` and ``GET``."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def delete(self, *, index: str, id: str, refresh: bool) -> dict[str, Any]:
        self.deleted.append(id)
        return {"result": "deleted"}

    async def search(self, **kwargs: Any) -> dict[str, Any]:
        return {"hits": {"total": {"value": 0}, "hits": []}}


def creds(token: str) -> HTTPAuthorizationCredentials:
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


def test_the_right_token_passes() -> None:
    require_write_token(Settings(api_token=TOKEN), creds(TOKEN))


@pytest.mark.parametrize("given", [None, creds(""), creds("wrong"), creds(TOKEN + "x")])
def test_a_missing_or_wrong_token_is_401(given: HTTPAuthorizationCredentials | None) -> None:
    with pytest.raises(HTTPException) as raised:
        require_write_token(Settings(api_token=TOKEN), given)
    assert raised.value.status_code == 401
    assert raised.value.headers is not None
    assert raised.value.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("configured", [None, ""])
def test_without_a_configured_token_writes_are_refused(configured: str | None) -> None:
    with pytest.raises(HTTPException) as raised:
        require_write_token(Settings(api_token=configured), creds(""))
    assert raised.value.status_code == 503
    assert "API_TOKEN is not configured" in str(raised.value.detail)
    assert "at least 32 characters" in str(raised.value.detail)


def as_header(token: str) -> str:
    """What Starlette makes of a header value sent as UTF-8 (it decodes Latin-1)."""
    return token.encode().decode("latin-1")


def test_non_ascii_tokens_are_compared_as_utf8_bytes() -> None:
    settings = Settings(api_token=UNICODE_TOKEN)
    require_write_token(settings, creds(as_header(UNICODE_TOKEN)))
    require_write_token(settings, creds(UNICODE_TOKEN))  # not from a header
    wrong = UNICODE_TOKEN.replace("é", "e")
    for given in (wrong, as_header(wrong)):
        with pytest.raises(HTTPException):
            require_write_token(settings, creds(given))


def test_non_ascii_token_over_http() -> None:
    client = client_with(DeletingEs(), token=UNICODE_TOKEN)
    ok = client.delete(
        "/watchlist/B0TESTAS1N", headers={"Authorization": f"Bearer {UNICODE_TOKEN}".encode()}
    )
    assert ok.status_code == 204
    latin = client.delete(
        "/watchlist/B0TESTAS1N", headers={"Authorization": "Bearer clé".encode("latin-1")}
    )
    assert latin.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer t\xf6ken".encode("latin-1")},  # not ASCII
    ],
)
def test_writes_over_http_without_the_token_are_401(headers: dict[str, str | bytes]) -> None:
    client = client_with(UnusedEs(), token=TOKEN)
    for response in (
        client.post("/watchlist", json={"asins": ["B0TESTAS1N"]}, headers=headers),
        client.delete("/watchlist/B0TESTAS1N", headers=headers),
    ):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "bearer token" in response.json()["detail"]


def test_writes_over_http_without_a_configured_token_are_503() -> None:
    client = client_with(UnusedEs(), token=None)
    response = client.delete("/watchlist/B0TESTAS1N", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    assert "API_TOKEN" in response.json()["detail"]


def test_with_the_token_the_write_happens_and_reads_need_none() -> None:
    es = DeletingEs()
    client = client_with(es, token=TOKEN)
    response = client.delete("/watchlist/B0TESTAS1N", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 204
    assert es.deleted == ["B0TESTAS1N"]
    assert client.get("/watchlist").status_code == 200


def test_the_token_never_appears_in_settings_reprs() -> None:
    assert TOKEN not in repr(Settings(api_token=TOKEN))
