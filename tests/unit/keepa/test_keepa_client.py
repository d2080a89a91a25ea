"""KeepaProductClient against a faked Keepa HTTP API."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import requests
import responses
from keepa_fakes import (
    API_KEY,
    BASE_URL,
    SERVER_TIME_MS,
    FakeTime,
    out_of_tokens_body,
    product_body,
    query_of,
)
from responses import matchers

from app.domain.markets import Market
from app.keepa import FetchResult, KeepaError, KeepaProductClient, TokenPlanner, TokenState

PRODUCT_URL = f"{BASE_URL}/product"
MakeProduct = Callable[..., dict[str, Any]]


def asins(n: int) -> list[str]:
    return [f"B0TEST{i:04d}" for i in range(n)]


def serve_products(
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
    *,
    tokens_left: Callable[[int], int] = lambda call: 1200 - 100 * call,
    refill_in: int = 41_250,
    refill_rate: int = 20,
) -> list[list[str]]:
    """Answer every /product call with products for the requested ASINs; return the calls."""
    calls: list[list[str]] = []

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        query = query_of(request)
        requested = query["asin"].split(",")
        calls.append(requested)
        body = product_body(
            [make_product(a, int(query["domain"])) for a in requested],
            tokens_left=tokens_left(len(calls)),
            refill_in=refill_in,
            refill_rate=refill_rate,
        )
        return 200, {"Content-Type": "application/json"}, orjson.dumps(body)

    keepa_http.add_callback(responses.GET, PRODUCT_URL, callback=callback)
    return calls


def test_fetch_returns_keepa_products_untouched(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
) -> None:
    products = [make_product("B07QK9XW3T"), make_product("B0CHX1W1XY")]
    raw = json.dumps(product_body(products, tokens_left=1178, tokens_consumed=2))
    keepa_http.get(
        PRODUCT_URL,
        body=raw,
        content_type="application/json",
        match=[
            matchers.query_param_matcher(
                {
                    "key": API_KEY,
                    "domain": "3",
                    "asin": "B07QK9XW3T,B0CHX1W1XY",
                    "stats": "90",
                    "buybox": "0",
                    "history": "1",
                },
                strict_match=True,
            )
        ],
    )

    result = client.fetch_products("de", ["b07qk9xw3t", " B0CHX1W1XY", "B07QK9XW3T"])

    assert isinstance(result, FetchResult)
    assert (result.market, result.domain_id) == ("DE", 3)
    assert result.products == json.loads(raw)["products"]  # byte-for-byte the same JSON
    assert "data" not in result.products[0]  # none of keepa.Keepa's numpy/pandas parsing
    assert "stats_parsed" not in result.products[0]
    assert result.token_state == TokenState(
        tokens_left=1178,
        refill_in_ms=41_250,
        refill_rate=20,
        timestamp_ms=SERVER_TIME_MS,
        tokens_consumed=2,
    )
    assert result.tokens_consumed == 2
    assert len(keepa_http.calls) == 1


def test_buybox_and_history_days_are_sent(
    fake_time: FakeTime, keepa_http: responses.RequestsMock, make_product: MakeProduct
) -> None:
    keepa_http.get(
        PRODUCT_URL,
        json=product_body([make_product("B07QK9XW3T", 2)], tokens_consumed=3),
        match=[
            matchers.query_param_matcher(
                {"domain": "2", "buybox": "1", "stats": "30", "days": "60"},
                strict_match=False,
            )
        ],
    )
    client = KeepaProductClient(
        API_KEY,
        base_url=BASE_URL,
        buybox=True,
        stats_days=30,
        history_days=60,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    result = client.fetch_products("GB", ["B07QK9XW3T"])
    assert result.products[0]["domainId"] == 2
    assert result.tokens_consumed == 3


def test_envelopes_carry_market_and_keepa_server_time(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
) -> None:
    keepa_http.get(PRODUCT_URL, json=product_body([make_product("B07QK9XW3T")]))
    result = client.fetch_products("DE", ["B07QK9XW3T"])
    [envelope] = list(result.envelopes())
    assert envelope.domain == Market.DE
    assert envelope.fetched_at == datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
    assert envelope.schema_version == 1
    assert envelope.product is result.products[0]
    assert result.batches[0].received_at == datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def test_250_asins_become_three_requests_in_order(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
    fake_time: FakeTime,
) -> None:
    calls = serve_products(keepa_http, make_product)
    wanted = asins(250)

    result = client.fetch_products("FR", wanted)

    assert [len(c) for c in calls] == [100, 100, 50]
    assert [a for c in calls for a in c] == wanted
    assert [p["asin"] for p in result.products] == wanted
    assert {p["domainId"] for p in result.products} == {4}
    assert len(result.batches) == 3
    assert result.tokens_consumed == 250
    assert fake_time.sleeps == []  # 1200 tokens: no reason to wait


def test_waits_for_refills_between_batches_instead_of_hammering(
    fake_time: FakeTime, keepa_http: responses.RequestsMock, make_product: MakeProduct
) -> None:
    # After the first batch the balance is 10 tokens (20 per minute, next refill in 30 s).
    # With min_batch=50 the client must wait two refills (30 s + 60 s + 1 s margin).
    calls = serve_products(
        keepa_http,
        make_product,
        tokens_left=lambda call: 10 if call == 1 else 0,
        refill_in=30_000,
        refill_rate=20,
    )
    client = KeepaProductClient(
        API_KEY,
        base_url=BASE_URL,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        planner=TokenPlanner(min_batch=50),
    )
    client.fetch_products("DE", asins(150))

    assert [len(c) for c in calls] == [100, 50]
    assert fake_time.sleeps == [pytest.approx(91.0)]


def test_default_planner_sends_what_the_balance_pays_for(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
    fake_time: FakeTime,
) -> None:
    calls = serve_products(
        keepa_http, make_product, tokens_left=lambda call: 0, refill_in=12_000, refill_rate=20
    )
    client.fetch_products("IT", asins(140))
    # 100 first (balance unknown), then 20 per refill, never more than paid for.
    assert [len(c) for c in calls] == [100, 20, 20]
    assert fake_time.sleeps == [pytest.approx(13.0), pytest.approx(13.0)]


def test_429_waits_as_long_as_keepa_says_then_retries(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
    fake_time: FakeTime,
) -> None:
    keepa_http.get(
        PRODUCT_URL, status=429, json=out_of_tokens_body(tokens_left=-37, refill_in=23_000)
    )
    keepa_http.get(PRODUCT_URL, json=product_body([make_product("B07QK9XW3T")]))

    result = client.fetch_products("ES", ["B07QK9XW3T", "B0CHX1W1XY"])

    # 2 tokens needed from -37 at 20/min: 2 refills -> 23 s + 60 s (+1 s margin).
    assert fake_time.sleeps == [pytest.approx(84.0)]
    assert len(keepa_http.calls) == 2
    assert [p["asin"] for p in result.products] == ["B07QK9XW3T"]


def test_429_without_token_fields_backs_off(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
    fake_time: FakeTime,
) -> None:
    keepa_http.get(PRODUCT_URL, status=429, body="")
    keepa_http.get(PRODUCT_URL, json=product_body([make_product("B07QK9XW3T")]))
    client.fetch_products("DE", ["B07QK9XW3T"])
    assert fake_time.sleeps == [0.5]


def test_endless_429_gives_up(fake_time: FakeTime, keepa_http: responses.RequestsMock) -> None:
    keepa_http.get(PRODUCT_URL, status=429, json=out_of_tokens_body(tokens_left=0))
    client = KeepaProductClient(
        API_KEY,
        base_url=BASE_URL,
        max_token_waits=3,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    with pytest.raises(KeepaError, match="out of tokens") as info:
        client.fetch_products("DE", ["B07QK9XW3T"])
    assert info.value.status_code == 429
    assert len(fake_time.sleeps) == 3
    assert API_KEY not in str(info.value)


def test_500_then_success_backs_off_once(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
    fake_time: FakeTime,
) -> None:
    keepa_http.get(PRODUCT_URL, status=500, body="<html>Internal Server Error</html>")
    keepa_http.get(PRODUCT_URL, status=502, body="Bad Gateway")
    keepa_http.get(PRODUCT_URL, json=product_body([make_product("B07QK9XW3T")]))

    result = client.fetch_products("DE", ["B07QK9XW3T"])

    assert fake_time.sleeps == [0.5, 1.0]  # exponential backoff
    assert result.products[0]["asin"] == "B07QK9XW3T"


def test_persistent_5xx_raises_after_bounded_retries(
    client: KeepaProductClient, keepa_http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    keepa_http.get(PRODUCT_URL, status=503, body="Service Unavailable")
    with pytest.raises(KeepaError, match="after 4 attempts: HTTP 503") as info:
        client.fetch_products("DE", ["B07QK9XW3T"])
    assert fake_time.sleeps == [0.5, 1.0, 2.0]
    assert len(keepa_http.calls) == 4
    assert info.value.status_code == 503
    assert API_KEY not in str(info.value)


def test_connection_errors_are_retried_and_redacted(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # requests' connection errors quote the URL, and the URL holds the key.
    leaky = requests.ConnectionError(
        f"HTTPSConnectionPool(host='api.keepa.test', port=443): Max retries exceeded with "
        f"url: /product?key={API_KEY}&domain=3&asin=B07QK9XW3T"
    )
    keepa_http.get(PRODUCT_URL, body=leaky)

    with pytest.raises(KeepaError) as info:
        client.fetch_products("DE", ["B07QK9XW3T"])

    error = info.value
    assert "ConnectionError" in str(error)
    assert "***" in str(error)
    assert API_KEY not in str(error)
    assert API_KEY not in repr(error)
    assert error.__cause__ is None
    assert error.__context__ is None
    assert fake_time.sleeps == [0.5, 1.0, 2.0]
    assert caplog.records, "retries should be logged"
    assert all(API_KEY not in r.getMessage() for r in caplog.records)
    assert API_KEY not in caplog.text


def test_timeouts_are_retried(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
    fake_time: FakeTime,
) -> None:
    keepa_http.get(PRODUCT_URL, body=requests.ReadTimeout("read timed out"))
    keepa_http.get(PRODUCT_URL, json=product_body([make_product("B07QK9XW3T")]))
    client.fetch_products("DE", ["B07QK9XW3T"])
    assert fake_time.sleeps == [0.5]


def test_client_errors_are_not_retried(
    client: KeepaProductClient, keepa_http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    keepa_http.get(
        PRODUCT_URL,
        status=400,
        json={
            **out_of_tokens_body(),
            "error": {
                "type": "invalidParameter",
                "message": "domain is not valid",
                "details": f"request /product?key={API_KEY}",
            },
        },
    )
    with pytest.raises(KeepaError, match="HTTP 400 REQUEST_REJECTED: invalidParameter") as info:
        client.fetch_products("DE", ["B07QK9XW3T"])
    assert fake_time.sleeps == []
    assert len(keepa_http.calls) == 1
    assert API_KEY not in str(info.value)


def test_payment_required_is_not_retried(
    client: KeepaProductClient, keepa_http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    keepa_http.get(PRODUCT_URL, status=402, json=out_of_tokens_body(tokens_left=0))
    with pytest.raises(KeepaError, match="HTTP 402 PAYMENT_REQUIRED"):
        client.fetch_products("DE", ["B07QK9XW3T"])
    assert fake_time.sleeps == []


def test_undecodable_200_is_retried(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
    fake_time: FakeTime,
) -> None:
    keepa_http.get(PRODUCT_URL, body='{"timestamp": 17419446000')  # truncated
    keepa_http.get(PRODUCT_URL, json=product_body([make_product("B07QK9XW3T")]))
    client.fetch_products("DE", ["B07QK9XW3T"])
    assert fake_time.sleeps == [0.5]


def test_key_never_logged_or_shown(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    keepa_http.get(PRODUCT_URL, status=429, json=out_of_tokens_body(tokens_left=-5))
    keepa_http.get(PRODUCT_URL, status=500, body="oops")
    keepa_http.get(PRODUCT_URL, json=product_body([make_product("B07QK9XW3T")]))
    result = client.fetch_products("DE", ["B07QK9XW3T"])

    # urllib3 logs every request line (with the query string) at DEBUG.
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        "api.keepa.com",
        443,
        "GET",
        f"/product?key={API_KEY}&domain=3&asin=B07QK9XW3T",
        "HTTP/1.1",
        200,
        5120,
    )

    assert len(caplog.records) >= 4
    assert all(API_KEY not in r.getMessage() for r in caplog.records)
    assert API_KEY not in caplog.text
    assert "key=***" in caplog.text
    assert API_KEY not in repr(client)
    assert API_KEY not in repr(result)
    assert API_KEY not in str(vars(client))  # the key itself is held as a SecretStr


def test_invalid_input_is_rejected_before_any_request(
    client: KeepaProductClient, keepa_http: responses.RequestsMock
) -> None:
    with pytest.raises(ValueError, match="untracked market 'US'"):
        client.fetch_products("US", ["B07QK9XW3T"])
    with pytest.raises(ValueError, match="malformed ASINs"):
        client.fetch_products("DE", ["B07QK9XW3T", "B07-QK9"])
    assert client.fetch_products("DE", []).products == []
    assert len(keepa_http.calls) == 0


def test_check_tokens_uses_the_free_token_endpoint(
    client: KeepaProductClient, keepa_http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    keepa_http.get(
        f"{BASE_URL}/token",
        json=out_of_tokens_body(tokens_left=500, refill_in=10_000),
        match=[matchers.query_param_matcher({"key": API_KEY})],
    )
    state = client.check_tokens()
    assert state.tokens_left == 500
    fake_time.now += 15  # one refill later
    assert client.token_state is not None
    assert client.token_state.tokens_left == 520


def test_no_refill_is_an_error_not_an_endless_wait(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
    fake_time: FakeTime,
) -> None:
    serve_products(keepa_http, make_product, tokens_left=lambda call: 0, refill_rate=0)
    with pytest.raises(KeepaError, match="refill rate of 0"):
        client.fetch_products("DE", asins(101))
    assert len(keepa_http.calls) == 1
    assert fake_time.sleeps == []


def test_tokens_of_a_fetch_that_fails_midway_are_still_counted(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    make_product: MakeProduct,
) -> None:
    """150 ASINs: the first request (100 tokens) succeeds, the second is rejected. The fetch
    fails, but the client still knows what Keepa charged (for the run's token record)."""
    keepa_http.get(
        PRODUCT_URL,
        json=product_body(
            [make_product(a) for a in asins(100)], tokens_left=1080, tokens_consumed=100
        ),
    )
    keepa_http.get(
        PRODUCT_URL,
        status=400,
        json={**out_of_tokens_body(tokens_left=1080), "error": {"type": "invalidParameter"}},
    )
    assert client.tokens_consumed == 0
    with pytest.raises(KeepaError, match="HTTP 400"):
        client.fetch_products("DE", asins(150))
    assert client.tokens_consumed == 100
    reported = client.reported_token_state
    assert reported is not None
    assert (reported.tokens_left, reported.tokens_consumed) == (1080, 0)
