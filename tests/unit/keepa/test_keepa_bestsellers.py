"""fetch_bestsellers against a faked Keepa /bestsellers endpoint."""

from __future__ import annotations

import logging

import pytest
import responses
from keepa_fakes import API_KEY, BASE_URL, FakeTime, out_of_tokens_body, token_fields
from responses import matchers

from app.keepa import KeepaError, KeepaProductClient, fetch_bestsellers

URL = f"{BASE_URL}/bestsellers"
ASIN_LIST = ["B0BF3P5XZS", "B08JQN5VDT", "B09SP8JPPK", "3499626225", "B07HPG684T"]


def bestsellers_body(asins: list[str] | None) -> dict[str, object]:
    body: dict[str, object] = token_fields(tokens_left=1130, tokens_consumed=50)
    if asins is not None:
        body["bestSellersList"] = {
            "domainId": 3,
            "lastUpdate": 7468200,
            "categoryId": 3167641,
            "asinList": asins,
        }
    return body


def test_returns_the_asin_list(
    client: KeepaProductClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(
        URL,
        json=bestsellers_body(ASIN_LIST),
        match=[
            matchers.query_param_matcher(
                {
                    "key": API_KEY,
                    "domain": "3",
                    "category": "3167641",
                    "range": "30",
                    "variations": "0",
                    "sublist": "0",
                },
                strict_match=True,
            )
        ],
    )
    assert fetch_bestsellers(client, "DE", 3167641, rank_avg_range=30) == ASIN_LIST
    assert client.token_state is not None
    assert client.token_state.tokens_left == 1130


def test_limit(client: KeepaProductClient, keepa_http: responses.RequestsMock) -> None:
    keepa_http.get(URL, json=bestsellers_body(ASIN_LIST))
    assert fetch_bestsellers(client, "GB", "560798", limit=2) == ASIN_LIST[:2]
    assert "domain=2" in str(keepa_http.calls[0].request.url)


def test_missing_list_is_an_error(
    client: KeepaProductClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(URL, json=bestsellers_body(None))
    with pytest.raises(KeepaError, match="no best-seller list for category 42 in FR"):
        fetch_bestsellers(client, "FR", 42)


def test_shares_the_clients_token_and_retry_handling(
    client: KeepaProductClient,
    keepa_http: responses.RequestsMock,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    keepa_http.get(URL, status=429, json=out_of_tokens_body(tokens_left=10, refill_in=5_000))
    keepa_http.get(URL, status=500, body="oops")
    keepa_http.get(URL, json=bestsellers_body(ASIN_LIST))

    assert fetch_bestsellers(client, "IT", 524015031) == ASIN_LIST

    # 50 tokens needed with 10 left at 20/min: 2 refills (5 s + 60 s + 1 s), then backoff.
    assert fake_time.sleeps == [pytest.approx(66.0), 0.5]
    assert API_KEY not in caplog.text


def test_waits_for_tokens_it_knows_it_lacks(
    client: KeepaProductClient, keepa_http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    keepa_http.get(f"{BASE_URL}/token", json=out_of_tokens_body(tokens_left=0, refill_in=20_000))
    keepa_http.get(URL, json=bestsellers_body(ASIN_LIST))
    client.check_tokens()
    fetch_bestsellers(client, "ES", 599364031)
    # 50 tokens at 20/min from 0: 3 refills, and no 429 round trip.
    assert fake_time.sleeps == [pytest.approx(20 + 120 + 1.0)]
    assert [c.request.url.split("?")[0] for c in keepa_http.calls if c.request.url] == [
        f"{BASE_URL}/token",
        URL,
    ]
