from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from dashboard.api_client import ApiClient, ApiError, ApiUnavailableError
from tests.unit.dashboard.dashboard_fake_api import detail, history, page, route, stats

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler) -> ApiClient:
    return ApiClient("http://api.test/", transport=httpx.MockTransport(handler))


def test_opportunities_sends_repeated_and_single_params_and_parses_the_page() -> None:
    seen: list[httpx.Request] = []
    body = page([route("B0AAAAAAA1")]).model_dump(mode="json")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=body)

    with _client(handler) as client:
        result = client.opportunities({"buy_market": ["DE", "FR"], "sort": "profit"})
    assert result.items[0].asin == "B0AAAAAAA1"
    assert seen[0].url.path == "/opportunities"
    assert seen[0].url.params.get_list("buy_market") == ["DE", "FR"]
    assert seen[0].url.params["sort"] == "profit"


def test_stats_detail_and_history() -> None:
    bodies = {
        "/stats": stats().model_dump(mode="json"),
        "/opportunities/B0AAAAAAA1": detail("B0AAAAAAA1", [route("B0AAAAAAA1")]).model_dump(
            mode="json"
        ),
        "/products/B0AAAAAAA1/history": history("B0AAAAAAA1").model_dump(mode="json"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=bodies[request.url.path])

    with _client(handler) as client:
        assert client.stats().counts.products == 50
        d = client.opportunity("B0AAAAAAA1")
        assert d is not None
        assert d.open_routes == 1
        assert d.routes[0].lifetime is None  # the API does not send it (yet)
        h = client.history("B0AAAAAAA1", markets=["DE", "GB"])
        assert h is not None
        assert len(h.points) == 30


def test_a_route_s_lifetime_is_read_when_the_api_sends_it() -> None:
    body = detail("B0AAAAAAA1", [route("B0AAAAAAA1")]).model_dump(mode="json")
    route_figures = {"episodes": 5, "closed": 4, "still_open": 1, "reopened": 4}
    body["routes"][0]["lifetime"] = {
        "route": {**route_figures, "median_seconds": 86400},
        "market_pair": {"episodes": 40, "closed": 40, "still_open": 0, "reopened": 9},
        "usually_lasts": "spreads on this route usually last 1 d (median of 4 closed; ...)",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    with _client(handler) as client:
        d = client.opportunity("B0AAAAAAA1")
    assert d is not None
    lifetime = d.routes[0].lifetime
    assert lifetime is not None
    assert lifetime.usually_lasts is not None
    assert lifetime.usually_lasts.startswith("spreads on this route usually last 1 d")
    assert (lifetime.route.closed, lifetime.route.median_seconds) == (4, 86400)
    assert lifetime.route.p90_seconds is None  # not sent: unknown
    assert lifetime.market_pair.reopened == 9


def test_404_is_none_for_single_items() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "unknown ASIN"})

    with _client(handler) as client:
        assert client.opportunity("B0AAAAAAA1") is None
        assert client.product("B0AAAAAAA1") is None
        with pytest.raises(ApiError, match="HTTP 404 unknown ASIN"):
            client.stats()


def test_unreachable_api_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        _client(handler) as client,
        pytest.raises(ApiUnavailableError, match="unreachable: ConnectError"),
    ):
        client.stats()


def test_timeout_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with _client(handler) as client, pytest.raises(ApiUnavailableError, match="timed out"):
        client.stats()


def test_server_errors_are_unavailable_but_health_503_is_a_body() -> None:
    health = {
        "status": "unavailable",
        "components": {
            "elasticsearch": {
                "ok": False,
                "status": "red",
                "detail": "down",
                "checked_at": "2026-11-25T12:00:00Z",
            }
        },
        "checked_at": "2026-11-25T12:00:00Z",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(503, json=health)
        return httpx.Response(503, json={"detail": "Elasticsearch is unavailable"})

    with _client(handler) as client:
        assert client.health().status == "unavailable"
        with pytest.raises(ApiUnavailableError, match="HTTP 503 Elasticsearch is unavailable"):
            client.opportunities({})


def test_client_errors_carry_the_detail() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"detail": "min_roi: must be >= -1000"})

    with _client(handler) as client, pytest.raises(ApiError, match="must be >= -1000") as info:
        client.opportunities({"min_roi": "-5000"})
    assert not isinstance(info.value, ApiUnavailableError)


def test_a_response_that_breaks_the_contract_is_an_api_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"total": "many"})

    with _client(handler) as client, pytest.raises(ApiError, match="unexpected response"):
        client.opportunities({})
