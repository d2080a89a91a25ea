"""``PUT /profile`` refuses what it cannot publish before anything reaches Kafka: a missing
or wrong token, and an invalid profile (422 naming the field's path). Publishing and reading
the topic are tested on the real stack (tests/integration/test_seller_profile.py)."""

from __future__ import annotations

from typing import Any

import pytest
from api_fakes import TOKEN, UnusedEs
from fastapi.testclient import TestClient

from app.api.config import ApiSettings
from app.api.deps import get_es
from app.api.main import create_app
from app.settings import Settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def client_with(token: str | None = TOKEN) -> TestClient:
    """The real app; no broker listens on its Kafka address (a request that got as far as
    Kafka fails with 503, and never reaches a real topic), Elasticsearch must not be used."""
    settings = Settings(
        api_token=token,
        kafka_bootstrap_servers="127.0.0.1:1",
        topic_prefix="unit-",
        elasticsearch_index_prefix="unit-",
    )
    app = create_app(settings, ApiSettings())
    app.dependency_overrides[get_es] = UnusedEs
    return TestClient(app)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return client_with()


@pytest.mark.parametrize(
    ("profile", "loc"),
    [
        ({"thresholds": {"min_roi": "-0.1"}}, ["body", "profile", "thresholds", "min_roi"]),
        ({"thresholds": {"min_roi": 0.2}}, ["body", "profile", "thresholds", "min_roi"]),
        (
            {"fulfilment": {"GB": {"mode": "drone"}}},
            ["body", "profile", "fulfilment", "GB", "mode"],
        ),
        ({"fulfilment": {"DE": {"mode": "efn"}}}, ["body", "profile", "fulfilment", "DE", "mode"]),
        ({"home_market": "US"}, ["body", "profile", "home_market"]),
        ({"prep_eur_cents": "12"}, ["body", "profile", "prep_eur_cents"]),
        (
            {"inbound_shipping_by_route": {"DE:DE": {}}},
            ["body", "profile", "inbound_shipping_by_route", "DE:DE"],
        ),
        ({"unknown": 1}, ["body", "profile", "unknown"]),
    ],
)
def test_an_invalid_profile_is_a_422_with_the_field_path(
    client: TestClient, profile: dict[str, Any], loc: list[str]
) -> None:
    response = client.put("/profile", json={"profile": profile}, headers=AUTH)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert error["type"] == "invalid_profile"
    assert error["msg"].startswith(f"profile field '{'.'.join(loc[2:])}'")


@pytest.mark.parametrize(
    "body",
    [
        {},  # no profile
        {"profile": []},
        {"profile": {}, "updated_by": ""},
        {"profile": {}, "extra": 1},
    ],
)
def test_a_malformed_body_is_a_422(client: TestClient, body: dict[str, Any]) -> None:
    response = client.put("/profile", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_writes_need_the_token(client: TestClient) -> None:
    body = {"profile": {"thresholds": {"min_roi": "0.2"}}}
    assert client.put("/profile", json=body).status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * 40}
    assert client.put("/profile", json=body, headers=wrong).status_code == 401
    # A bad profile without a token: the token is checked first.
    assert client.put("/profile", json={"profile": {"x": 1}}).status_code == 401


def test_writes_are_disabled_without_a_usable_token() -> None:
    disabled = client_with(token=None)
    response = disabled.put("/profile", json={"profile": {}}, headers=AUTH)
    assert response.status_code == 503
    assert "API_TOKEN" in response.json()["detail"]


def test_kafka_unreachable_is_a_503(client: TestClient) -> None:
    """A valid profile goes to Kafka; nothing listens there."""
    response = client.put("/profile", json={"profile": {}}, headers=AUTH)
    assert response.status_code == 503, response.text
    assert "Kafka is unavailable" in response.json()["detail"]
    response = client.get("/profile")
    assert response.status_code == 503, response.text
