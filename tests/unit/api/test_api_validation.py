"""Bad input is a 422 naming the parameter, before anything reaches Elasticsearch."""

from __future__ import annotations

from typing import Any

import pytest
from api_fakes import TOKEN, UnusedEs, client_with
from fastapi.testclient import TestClient

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return client_with(UnusedEs())


def assert_422(response: Any, *location: str | int) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    errors: list[dict[str, Any]] = response.json()["detail"]
    assert any(tuple(e["loc"][: len(location)]) == location for e in errors), errors
    assert all(e["msg"] for e in errors)
    return errors


@pytest.mark.parametrize(
    ("query", "location"),
    [
        ("buy_market=XX", ("query", "buy_market", 0)),
        ("sell_market=DE,FR,ZZ", ("query", "sell_market", 2)),
        # a parameter with no market in it: the schemathesis run of 2026-11-29 found it accepted
        ("sell_market=", ("query", "sell_market")),
        ("buy_market=,%20,", ("query", "buy_market")),
        ("min_profit_eur=-1", ("query", "min_profit_eur")),
        ("min_profit_eur=1.234", ("query", "min_profit_eur")),
        ("min_profit_eur=abc", ("query", "min_profit_eur")),
        ("min_profit_eur=NaN", ("query", "min_profit_eur")),
        ("min_profit_eur=1e12", ("query", "min_profit_eur")),
        ("min_roi=nan", ("query", "min_roi")),
        ("min_roi=inf", ("query", "min_roi")),
        ("min_roi=1e9", ("query", "min_roi")),
        ("min_margin=x", ("query", "min_margin")),
        ("max_sales_rank=0", ("query", "max_sales_rank")),
        ("max_sales_rank=1.5", ("query", "max_sales_rank")),
        ("category=-1", ("query", "category")),
        ("category=99999999999999999999999", ("query", "category")),
        ("exclude_amazon_seller=maybe", ("query", "exclude_amazon_seller")),
        ("best_per_asin=2", ("query", "best_per_asin")),
        ("exclude_spikes=perhaps", ("query", "exclude_spikes")),
        ("min_monthly_sales=-1", ("query", "min_monthly_sales")),
        ("max_offers=x", ("query", "max_offers")),
        ("q=" + "x" * 201, ("query", "q")),
        ("sort=cheapest", ("query", "sort")),
        ("order=up", ("query", "order")),
        ("page=0", ("query", "page")),
        ("page_size=201", ("query", "page_size")),
        ("page_size=0", ("query", "page_size")),
        ("unknown_param=1", ("query", "unknown_param")),
    ],
)
def test_opportunity_filters(client: TestClient, query: str, location: tuple[Any, ...]) -> None:
    assert_422(client.get(f"/opportunities?{query}"), *location)


def test_result_window_is_a_clear_422(client: TestClient) -> None:
    (error,) = assert_422(client.get("/opportunities?page=51&page_size=200"), "query")
    assert "page * page_size must be at most 10000" in error["msg"]


@pytest.mark.parametrize(
    "path",
    [
        "/opportunities/b0lowercase",
        "/opportunities/B0SHORT",
        "/opportunities/B0TOOLONG123",
        "/opportunities/B0-TEST-AS",
        "/products/B0SHORT",
        "/products/B0SHORT/history",
    ],
)
def test_invalid_asin_in_the_path(client: TestClient, path: str) -> None:
    (error,) = assert_422(client.get(path), "path", "asin")
    assert "^[A-Z0-9]{10}$" in error["msg"]


@pytest.mark.parametrize(
    ("query", "location", "text"),
    [
        ("since=2026-11-20T12:00:00", ("query", "since"), "timezone"),
        ("until=yesterday", ("query", "until"), ""),
        ("since=2026-11-21T00:00:00Z&until=2026-11-20T00:00:00Z", ("query",), "after until"),
        ("since=0001-01-01T00:00:00%2B01:00", ("query", "since"), "out of range"),
        ("limit=0", ("query", "limit"), ""),
        ("limit=10001", ("query", "limit"), ""),
        ("market=XX", ("query", "market", 0), ""),
        ("market=", ("query", "market"), "no market code given"),
    ],
)
def test_history_params(
    client: TestClient, query: str, location: tuple[Any, ...], text: str
) -> None:
    errors = assert_422(client.get(f"/products/B0TESTAS1N/history?{query}"), *location)
    assert any(text in e["msg"] for e in errors), errors


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({}, ("body", "asins")),
        ({"asins": []}, ("body", "asins")),
        ({"asins": ["b0lowercase"]}, ("body", "asins", 0)),
        ({"asins": ["B0TESTAS1N", "SHORT"]}, ("body", "asins", 1)),
        ({"asins": ["B0TESTAS1N"] * 1001}, ("body", "asins")),
        ({"asins": ["B0TESTAS1N"], "markets": []}, ("body", "markets")),
        ({"asins": ["B0TESTAS1N"], "markets": ["XX"]}, ("body", "markets", 0)),
        ({"asins": ["B0TESTAS1N"], "priority": 11}, ("body", "priority")),
        ({"asins": ["B0TESTAS1N"], "priority": -1}, ("body", "priority")),
        ({"asins": ["B0TESTAS1N"], "note": "x" * 1001}, ("body", "note")),
        ({"asins": ["B0TESTAS1N"], "extra": 1}, ("body", "extra")),
    ],
)
def test_watchlist_body(
    client: TestClient, body: dict[str, Any], location: tuple[Any, ...]
) -> None:
    assert_422(client.post("/watchlist", json=body, headers=AUTH), *location)


def test_watchlist_body_that_is_not_json(client: TestClient) -> None:
    response = client.post(
        "/watchlist", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize(("method", "path"), [("post", "/watchlist"), ("put", "/profile")])
def test_body_that_cannot_be_decoded_is_a_documented_400(
    client: TestClient, method: str, path: str
) -> None:
    # bytes that are not UTF-8 fail before JSON decoding: FastAPI answers 400 (malformed JSON
    # is a 422, above); every write endpoint with a body documents it (schemathesis checks)
    headers = {**AUTH, "Content-Type": "application/json"}
    response = client.request(method.upper(), path, content=b"\xa3&7\xff", headers=headers)
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": "There was an error parsing the body"}
    schema = client.get("/openapi.json").json()
    assert "400" in schema["paths"][path][method]["responses"]


@pytest.mark.parametrize("query", ["page=0", "page_size=1000", "page=10000&page_size=2"])
def test_watchlist_paging(client: TestClient, query: str) -> None:
    assert_422(client.get(f"/watchlist?{query}"), "query")


def test_openapi_documents_every_endpoint_and_the_bearer_scheme(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/opportunities",
        "/opportunities/{asin}",
        "/products/{asin}",
        "/products/{asin}/history",
        "/watchlist",
        "/watchlist/{asin}",
        "/profile",
        "/profit/quote",
        "/stats",
        "/stats/lifetimes",
        "/health",
    }
    assert schema["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
    assert schema["paths"]["/watchlist"]["post"]["security"] == [{"ApiToken": []}]
    assert "security" not in schema["paths"]["/watchlist"]["get"]
    assert schema["paths"]["/profile"]["put"]["security"] == [{"ApiToken": []}]
    assert "security" not in schema["paths"]["/profile"]["get"]
    assert "security" not in schema["paths"]["/profit/quote"]["post"]  # computes, writes nothing
    params = {p["name"] for p in schema["paths"]["/opportunities"]["get"]["parameters"]}
    assert {"buy_market", "min_profit_eur", "best_per_asin", "page_size", "q"} <= params
    assert {"exclude_spikes", "min_monthly_sales", "max_offers"} <= params
    routes = schema["components"]["schemas"]["OpportunityRoute"]["properties"]
    assert {"sell_signals", "expected_monthly_profit_eur_cents"} <= set(routes)
    assert {"lifetime", "open_for_seconds"} <= set(routes)
    lifetime = schema["components"]["schemas"]["RouteLifetime"]["properties"]
    assert set(lifetime) == {"route", "market_pair", "usually_lasts"}
    assert client.get("/docs").status_code == 200
