"""The REST API in-process against the real Elasticsearch, on documents written by a real
worker from Keepa envelopes (see conftest.py for the hand-computed routes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_dataset import HOSE, T0, TOKEN, A, B, C, D, E
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.settings import Settings
from devtools.worker_process import free_port
from tests.session_resources import Owned, delete_indices, resource_name

AUTH = {"Authorization": f"Bearer {TOKEN}".encode()}


@pytest.fixture(scope="module")
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


def get(client: TestClient, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def routes(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["asin"], item["route"]) for item in body["items"]]


# --- GET /opportunities --------------------------------------------------------------------


def test_best_route_per_asin_by_profit(client: TestClient) -> None:
    body = get(client, "/opportunities")
    assert routes(body) == [(D, "DE:FR"), (B, "DE:GB"), (A, "DE:FR"), (E, "DE:ES")]
    assert [i["profit_eur_cents"] for i in body["items"]] == [1567, 984, 888, 862]
    assert (body["total"], body["total_routes"], body["total_exact"]) == (4, 5, True)
    assert (body["page"], body["pages"], body["warnings"]) == (1, 1, [])


def test_all_routes(client: TestClient) -> None:
    body = get(client, "/opportunities", best_per_asin="false")
    assert routes(body) == [
        (D, "DE:FR"),
        (B, "DE:GB"),
        (A, "DE:FR"),  # 888 twice: ties by ASIN
        (B, "DE:FR"),
        (E, "DE:ES"),
    ]
    assert body["total"] == body["total_routes"] == 5


def test_an_item_carries_everything_the_dashboard_shows(client: TestClient) -> None:
    (item,) = [i for i in get(client, "/opportunities")["items"] if i["asin"] == A]
    assert item["state"] == "open"
    assert item["title"] == "Acme Stainless Steel Water Bottle 750 ml"
    assert item["image_url"] == "https://m.media-amazon.com/images/I/51Xk9sQ2fUL.jpg"
    assert (item["buy_market"], item["sell_market"]) == ("DE", "FR")
    assert item["buy_url"] == f"https://www.amazon.de/dp/{A}"
    assert item["sell_url"] == f"https://www.amazon.fr/dp/{A}"
    assert (item["buy_price_eur_cents"], item["sell_price_eur_cents"]) == (2000, 5000)
    assert (item["buy_price_minor"], item["sell_price_minor"]) == (2000, 5000)
    assert item["profit_eur_cents"] == 888
    assert item["roi"] == pytest.approx(0.4042)
    assert item["margin"] == pytest.approx(0.2131)
    breakdown = item["breakdown"]
    assert (breakdown["net_sell_eur_cents"], breakdown["net_buy_eur_cents"]) == (4167, 1681)
    assert [(x["kind"], x["eur_cents"], x["is_cost"]) for x in breakdown["lines"]] == [
        ("sales_vat", 833, False),
        ("purchase_vat", 319, False),
        ("referral", 750, True),
        ("fba", 300, True),
        ("storage", 6, True),  # FR, November: 0.0015 m3 x 3968 = 5.952
        ("digital_services_fee", 32, True),
        ("fee_vat", 218, False),  # 20 % x (750 + 32 + 300 + 6) = 217.6, reverse-charged
        ("inbound_shipping", 510, True),
    ]
    assert (item["fee_category"], item["failed_thresholds"]) == ("default", [])
    assert item["first_seen"] == item["last_seen"] == "2026-11-20T12:00:00Z"
    expected_age = (datetime.now(UTC) - T0).total_seconds()
    assert abs(item["age_seconds"] - expected_age) < 120
    assert (item["sales_rank"], item["category"]) == (1234, 3167641)
    assert item["amazon_sells_in_target"] is False
    gb = next(i for i in get(client, "/opportunities")["items"] if i["asin"] == B)
    assert (gb["sell_currency"], gb["sell_price_minor"], gb["sell_price_eur_cents"]) == (
        "GBP",
        5000,
        5850,
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sell_market": "FR"}, [(D, "DE:FR"), (A, "DE:FR"), (B, "DE:FR")]),
        ({"sell_market": ["GB", "ES"]}, [(B, "DE:GB"), (E, "DE:ES")]),
        ({"sell_market": "gb,es"}, [(B, "DE:GB"), (E, "DE:ES")]),
        ({"buy_market": "DE", "sell_market": "IT"}, []),  # A's DE:IT is closed
        ({"buy_market": "FR"}, []),
        ({"min_profit_eur": "8.88"}, [(D, "DE:FR"), (B, "DE:GB"), (A, "DE:FR")]),
        ({"min_profit_eur": "8.89"}, [(D, "DE:FR"), (B, "DE:GB")]),
        ({"min_roi": 0.5}, [(D, "DE:FR")]),
        (
            {"min_roi": 0.39, "best_per_asin": "false"},  # E 0.3924 in, B's DE:GB 0.3648 out
            [(D, "DE:FR"), (A, "DE:FR"), (B, "DE:FR"), (E, "DE:ES")],
        ),
        ({"min_margin": 0.21}, [(D, "DE:FR"), (A, "DE:FR"), (B, "DE:FR")]),  # E 0.2086 out
        ({"max_sales_rank": 10_000}, [(B, "DE:GB"), (A, "DE:FR"), (E, "DE:ES")]),
        (
            {"max_sales_rank": 50_000, "sell_market": "FR"},
            [(D, "DE:FR"), (A, "DE:FR"), (B, "DE:FR")],
        ),
        ({"category": 999}, [(D, "DE:FR")]),
        ({"category": 3167641, "sell_market": "ES"}, [(E, "DE:ES")]),
        ({"category": 12345}, []),
        ({"exclude_amazon_seller": "true"}, [(B, "DE:GB"), (A, "DE:FR"), (E, "DE:ES")]),
        ({"q": "garden hose"}, [(E, "DE:ES")]),
        ({"q": HOSE}, [(E, "DE:ES")]),
        ({"q": "HOSE garden"}, [(E, "DE:ES")]),
        ({"q": "garden bottle"}, []),
        ({"q": "bottle", "min_profit_eur": "9.50"}, [(D, "DE:FR"), (B, "DE:GB")]),
    ],
)
def test_filters(
    client: TestClient, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    body = get(client, "/opportunities", **params)
    assert routes(body) == expected
    assert body["total"] == len(expected)
    assert body["warnings"] == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sort": "newest"}, [D, B, E, A]),
        ({"sort": "newest", "order": "asc"}, [A, E, B, D]),
        ({"sort": "profit", "order": "asc"}, [E, A, B, D]),  # B's worst route first (888)
        ({"sort": "roi"}, [D, A, B, E]),  # A and B's DE:FR: 0.4042; ties by profit, ASIN
        ({"sort": "margin"}, [D, A, B, E]),
    ],
)
def test_sorting(client: TestClient, params: dict[str, Any], expected: list[str]) -> None:
    body = get(client, "/opportunities", **params)
    assert [item["asin"] for item in body["items"]] == expected


def test_best_route_is_the_first_under_the_chosen_sort(client: TestClient) -> None:
    by_profit = {i["asin"]: i["route"] for i in get(client, "/opportunities")["items"]}
    by_roi = {i["asin"]: i["route"] for i in get(client, "/opportunities", sort="roi")["items"]}
    assert (by_profit[B], by_roi[B]) == ("DE:GB", "DE:FR")


def test_pagination_with_totals(client: TestClient) -> None:
    pages = [
        get(client, "/opportunities", best_per_asin="false", page=n, page_size=2)
        for n in (1, 2, 3, 4)
    ]
    assert [len(p["items"]) for p in pages] == [2, 2, 1, 0]
    assert {(p["total"], p["pages"]) for p in pages} == {(5, 3)}
    seen = [r for p in pages for r in routes(p)]
    assert seen == routes(get(client, "/opportunities", best_per_asin="false"))
    collapsed = get(client, "/opportunities", page=2, page_size=3)
    assert (collapsed["total"], collapsed["pages"], routes(collapsed)) == (4, 2, [(E, "DE:ES")])


# --- GET /opportunities/{asin} -------------------------------------------------------------


def test_detail_has_open_and_closed_routes(client: TestClient) -> None:
    body = get(client, f"/opportunities/{A}")
    assert body["asin"] == A
    assert body["open_routes"] == 1
    assert [(r["route"], r["state"]) for r in body["routes"]] == [
        ("DE:FR", "open"),
        ("DE:IT", "closed"),
    ]
    closed = body["routes"][1]
    assert (closed["reason"], closed["last_event"]) == ("below_threshold", "closed")
    assert closed["closed_at"] == "2026-11-20T13:00:00Z"
    assert closed["first_seen"] == "2026-11-20T12:00:00Z"
    assert closed["breakdown"]["net_sell_eur_cents"] == 2459  # 3000 / 1.22: the closing figures
    assert body["routes"][0]["breakdown"]["net_buy_eur_cents"] == 1681


def test_detail_of_unknown_or_never_profitable_asins_is_404(client: TestClient) -> None:
    for asin in (C, "B0NOTKNOWN"):
        response = client.get(f"/opportunities/{asin}")
        assert response.status_code == 404
        assert asin in response.json()["detail"]
    assert client.get("/opportunities/not-an-asin").status_code == 422


# --- products and history ------------------------------------------------------------------


def test_product_has_the_latest_quote_per_market(client: TestClient) -> None:
    body = get(client, f"/products/{A}")
    assert [m["market"] for m in body["markets"]] == ["DE", "FR", "IT"]
    it = body["markets"][2]
    assert it["sell_price_minor"] == 3000  # the later observation
    assert it["observed_at"] == "2026-11-20T13:00:00Z"
    assert it["fetched_at"] == "2026-11-20T13:05:00Z"
    assert it["prices"] == {"BUY_BOX_SHIPPING": 3000}
    assert it["fba_fee_minor"] == 300
    assert body["markets"][0]["buy_price_minor"] == 2000
    assert body["markets"][0]["amazon_in_stock"] is True
    gb = get(client, f"/products/{B}")["markets"][-1]
    assert (gb["market"], gb["currency"], gb["sell_price_eur_cents"]) == ("GB", "GBP", 5850)
    assert get(client, f"/products/{C}")["title"] == "Acme Stainless Steel Water Bottle 750 ml"
    assert client.get("/products/B0NOTKNOWN").status_code == 404


def test_history_points_oldest_first(client: TestClient) -> None:
    body = get(client, f"/products/{A}/history")
    assert (body["total"], body["truncated"]) == (4, False)
    assert [(p["market"], p["observed_at"], p["sell_price_minor"]) for p in body["points"]] == [
        ("DE", "2026-11-20T12:00:00Z", None),
        ("FR", "2026-11-20T12:00:00Z", 5000),
        ("IT", "2026-11-20T12:00:00Z", 5000),
        ("IT", "2026-11-20T13:00:00Z", 3000),
    ]
    assert body["points"][0]["buy_price_eur_cents"] == 2000


def test_history_filters(client: TestClient) -> None:
    it = get(client, f"/products/{A}/history", market="IT")
    assert [p["sell_price_minor"] for p in it["points"]] == [5000, 3000]
    since = get(client, f"/products/{A}/history", since="2026-11-20T13:30:00+01:00")
    assert [p["observed_at"] for p in since["points"]] == ["2026-11-20T13:00:00Z"]
    until = get(client, f"/products/{A}/history", until="2026-11-20T12:00:00Z", market="DE,FR")
    assert [p["market"] for p in until["points"]] == ["DE", "FR"]
    newest = get(client, f"/products/{A}/history", limit=1)
    assert (newest["total"], newest["truncated"], len(newest["points"])) == (4, True, 1)
    assert newest["points"][0]["sell_price_minor"] == 3000
    empty = get(client, f"/products/{A}/history", since="2030-01-01T00:00:00Z")
    assert (empty["total"], empty["points"]) == (0, [])
    assert client.get("/products/B0NOTKNOWN/history").status_code == 404


# --- watchlist -----------------------------------------------------------------------------


def watched(client: TestClient) -> dict[str, dict[str, Any]]:
    body = get(client, "/watchlist", page_size=200)
    return {item["asin"]: item for item in body["items"]}


def test_watchlist_writes_need_the_token(client: TestClient) -> None:
    body = {"asins": ["B0WATCH001"]}
    assert client.post("/watchlist", json=body).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert client.post("/watchlist", json=body, headers=wrong).status_code == 401
    assert client.delete("/watchlist/B0WATCH001", headers=wrong).status_code == 401
    assert "B0WATCH001" not in watched(client)


def test_watchlist_lifecycle(client: TestClient, es: Elasticsearch, api_settings: Settings) -> None:
    body = {"asins": ["B0WATCH002", "B0WATCH001", "B0WATCH002"], "markets": ["FR", "DE", "FR"]}
    first = client.post("/watchlist", json={**body, "priority": 3}, headers=AUTH)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": ["B0WATCH002", "B0WATCH001"], "updated": [], "unchanged": []}
    entries = watched(client)
    assert entries["B0WATCH001"]["markets"] == ["DE", "FR"]  # canonical order
    assert (entries["B0WATCH001"]["priority"], entries["B0WATCH001"]["source"]) == (3, "api")
    added_at = entries["B0WATCH001"]["added_at"]

    again = client.post("/watchlist", json={**body, "priority": 3}, headers=AUTH).json()
    assert again == {"created": [], "updated": [], "unchanged": ["B0WATCH002", "B0WATCH001"]}
    changed = client.post(
        "/watchlist", json={"asins": ["B0WATCH001"], "priority": 9, "note": "hot"}, headers=AUTH
    ).json()
    assert changed["updated"] == ["B0WATCH001"]
    entry = watched(client)["B0WATCH001"]
    assert (entry["priority"], entry["note"], entry["markets"]) == (
        9,
        "hot",
        ["DE", "FR", "IT", "ES", "GB"],
    )
    assert entry["added_at"] == added_at
    order = list(watched(client))
    assert order.index("B0WATCH001") < order.index("B0WATCH002")  # higher priority first

    # the document has exactly the shape of app.ingest.watchlist.WatchlistStore's
    from app.ingest.watchlist import WatchlistStore

    stored = WatchlistStore(es, api_settings).get("B0WATCH001")
    assert stored is not None
    assert (stored.markets, stored.priority, stored.source, stored.note) == (
        ("DE", "FR", "IT", "ES", "GB"), 9, "api", "hot",
    )  # fmt: skip

    assert client.delete("/watchlist/B0WATCH001", headers=AUTH).status_code == 204
    assert client.delete("/watchlist/B0WATCH001", headers=AUTH).status_code == 404
    assert "B0WATCH001" not in watched(client)
    assert "B0WATCH002" in watched(client)


def test_writes_are_refused_without_a_configured_token(api_settings: Settings) -> None:
    no_token = api_settings.model_copy(update={"api_token": None})
    with TestClient(create_app(no_token)) as client:
        response = client.post("/watchlist", json={"asins": ["B0WATCH003"]}, headers=AUTH)
        assert response.status_code == 503
        assert "API_TOKEN" in response.json()["detail"]
        assert client.get("/watchlist").status_code == 200


# --- stats and health ----------------------------------------------------------------------


def test_stats(client: TestClient, es: Elasticsearch, api_settings: Settings) -> None:
    runs = api_settings.index("ingest-runs")
    now = datetime.now(UTC)
    es.index(
        index=runs,
        document={
            "finished_at": now - timedelta(hours=30),
            "tokens_consumed": 50,
            "tokens_left": 900,
        },
    )
    es.index(
        index=runs,
        document={
            "finished_at": now - timedelta(hours=1),
            "tokens_consumed": 120,
            "tokens_left": 1200,
        },
    )
    es.index(
        index=runs,
        document={
            "finished_at": now - timedelta(hours=2),
            "tokens_consumed": 80,
            "tokens_left": 1100,
        },
    )
    es.indices.refresh(index=runs)
    # An entry of its own: the watchlist count is checked on a non-empty index, against what
    # the index holds (other tests of this module add and remove entries too).
    added = client.post("/watchlist", json={"asins": ["B0STATS001"]}, headers=AUTH)
    assert added.status_code == 200, added.text
    watchlist = api_settings.index("watchlist")
    es.indices.refresh(index=watchlist)
    entries = es.count(index=watchlist)["count"]
    assert entries >= 1

    body = get(client, "/stats")
    counts = body["counts"]
    assert (counts["open_opportunities"], counts["opportunities"]) == (5, 6)
    assert (counts["products"], counts["price_history"]) == (12, 13)
    assert counts["watchlist"] == entries
    fresh = {f["market"]: f for f in body["freshness"]}
    assert set(fresh) == {"DE", "FR", "IT", "ES", "GB"}
    assert fresh["DE"]["newest_observed_at"] == "2026-11-20T15:00:00Z"  # D at T0+3h
    assert fresh["DE"]["products"] == 5
    assert fresh["IT"]["newest_observed_at"] == "2026-11-20T13:00:00Z"
    expected_age = (datetime.now(UTC) - (T0 + timedelta(hours=3))).total_seconds()
    assert abs(fresh["DE"]["age_seconds"] - expected_age) < 120
    keepa = body["keepa"]
    assert keepa["available"] is True
    assert (keepa["last_run_tokens_consumed"], keepa["tokens_left"]) == (120, 1200)
    assert (keepa["tokens_consumed_24h"], keepa["runs_24h"]) == (200, 2)


def test_stats_without_ingest_runs_or_any_index(api_settings: Settings, es: Elasticsearch) -> None:
    prefix = f"{resource_name('apinone')}-"
    empty = api_settings.model_copy(update={"elasticsearch_index_prefix": prefix})
    with TestClient(create_app(empty)) as client:
        body = get(client, "/stats")
        assert body["counts"] == {
            "open_opportunities": 0,
            "opportunities": 0,
            "products": 0,
            "price_history": 0,
            "watchlist": 0,
        }
        assert body["freshness"] == []
        assert body["keepa"]["available"] is False
        # the API created the (empty) indices at start-up: empty pages, not errors
        response = client.get("/opportunities")
        assert response.status_code == 200
        assert response.json()["total"] == 0
    assert delete_indices(es, Owned.indices_under(prefix))  # it did create them


def test_health_ok(client: TestClient) -> None:
    body = get(client, "/health")
    assert body["status"] == "ok"
    assert body["components"]["elasticsearch"]["status"] in {"green", "yellow"}
    assert body["components"]["kafka"]["status"] == "up"
    assert "broker" in body["components"]["kafka"]["detail"]


def test_health_reports_a_dead_kafka(api_settings: Settings) -> None:
    dead = api_settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"})
    with TestClient(create_app(dead)) as client:
        response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["components"]["elasticsearch"]["ok"] is True
    assert body["components"]["kafka"]["ok"] is False
    assert body["components"]["kafka"]["detail"]


def test_a_dead_elasticsearch_is_503_everywhere(api_settings: Settings) -> None:
    dead = api_settings.model_copy(update={"elasticsearch_url": f"http://127.0.0.1:{free_port()}"})
    with TestClient(create_app(dead)) as client:
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["components"]["elasticsearch"]["status"] == "unreachable"
        for url in (
            "/opportunities",
            f"/opportunities/{A}",
            f"/products/{A}",
            "/stats",
            "/watchlist",
        ):
            response = client.get(url)
            assert response.status_code == 503, (url, response.text)
            assert "unreachable" in response.json()["detail"]
        post = client.post("/watchlist", json={"asins": [A]}, headers=AUTH)
        assert post.status_code == 503
