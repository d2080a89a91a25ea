"""KeepaTrackingClient against a faked Keepa /tracking API (bodies in Keepa's format)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import requests
import responses
from keepa_fakes import (
    API_KEY,
    BASE_URL,
    FakeTime,
    load_json,
    out_of_tokens_body,
    query_of,
    tracking_body,
)
from responses import matchers

from app.contracts.keepa_notifications import NotificationCause
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.keepa import KeepaError, KeepaProductClient
from app.keepa.tracking import (
    KeepaTrackingClient,
    NotifyIf,
    NotifyIfType,
    ThresholdValue,
    TrackingRequest,
)

URL = f"{BASE_URL}/tracking"
WEBHOOK = "https://arbitrage.example.org/keepa/notify/Zq3vN8xT2mKp7RwYc4HbLs9d"


@pytest.fixture
def tracking(client: KeepaProductClient) -> KeepaTrackingClient:
    return KeepaTrackingClient(client)


def request_for(asin: str, market: Market = Market.DE) -> TrackingRequest:
    return TrackingRequest(
        asin=asin,
        main_market=market,
        thresholds=(
            ThresholdValue(Market.DE, PriceType.NEW_FBA, 2350, is_drop=True),
            ThresholdValue(Market.FR, PriceType.BUY_BOX_SHIPPING, 3150, is_drop=False),
        ),
        meta_data="arbitrage-tracker",
    )


def keepa_tracking(asin: str, created: int = 7468410) -> dict[str, Any]:
    """The tracking object Keepa returns for ``request_for(asin)``."""
    obj: dict[str, Any] = load_json("tracking_add_response.json")["trackings"][0]
    return {**obj, "asin": asin, "createDate": created}


def body_json(call: Any) -> Any:
    return json.loads(call.request.body)


# --- add ------------------------------------------------------------------------------


def test_batch_add_reports_the_failed_asin_and_keeps_the_others(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.post(
        URL,
        json=load_json("tracking_add_response.json"),
        match=[matchers.query_param_matcher({"key": API_KEY, "type": "add"}, strict_match=True)],
    )
    asked = [request_for("B07QK9XW3T"), request_for("B0BADASIN1"), request_for("B0CHX1W1XY")]

    result = tracking.add(asked)

    assert [t.asin for t in result.added] == ["B07QK9XW3T", "B0CHX1W1XY"]
    [failed] = result.failed
    assert failed.asin == "B0BADASIN1"
    assert "B0BADASIN1" in failed.reason
    assert "Could not add all trackings" in failed.reason
    assert not result.ok
    assert (result.requests, result.tokens_consumed) == (1, 3)
    assert (result.refill_rate, result.token_flow_reduction) == (19, 1.0)
    # One POST with the three tracking creation objects as a JSON array.
    [call] = keepa_http.calls
    assert call.request.method == "POST"
    assert call.request.headers["Content-Type"].startswith("application/json")
    sent = body_json(call)
    assert [o["asin"] for o in sent] == ["B07QK9XW3T", "B0BADASIN1", "B0CHX1W1XY"]
    assert sent[0] == request_for("B07QK9XW3T").to_keepa()
    added = result.added[0]
    assert added.main_market is Market.DE
    assert set(added.thresholds) == set(request_for("B07QK9XW3T").thresholds)


def test_an_asin_missing_from_the_response_is_failed_even_without_an_error(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.post(
        URL, json=tracking_body(trackings=[keepa_tracking("B07QK9XW3T")], tokens_consumed=2)
    )
    result = tracking.add([request_for("B07QK9XW3T"), request_for("B0CHX1W1XY")])
    assert [t.asin for t in result.added] == ["B07QK9XW3T"]
    assert [(f.asin, f.reason) for f in result.failed] == [
        ("B0CHX1W1XY", "not in Keepa's response")
    ]


def test_a_400_naming_the_asins_is_a_per_asin_failure_not_an_exception(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    keepa_http.post(
        URL,
        status=400,
        json=tracking_body(
            error={"type": "invalidParameter", "message": "B0BADASIN1", "details": None}
        ),
    )
    result = tracking.add([request_for("B0BADASIN1")])
    assert result.added == ()
    assert [f.asin for f in result.failed] == ["B0BADASIN1"]
    assert fake_time.sleeps == []  # not retried


def test_a_rejected_request_raises_without_the_key(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.post(
        URL,
        status=400,
        json=tracking_body(
            error={
                "type": "invalidParameter",
                "message": "tracking JSON could not be parsed",
                "details": f"/tracking?key={API_KEY}&type=add",
            }
        ),
    )
    with pytest.raises(KeepaError, match="could not be parsed") as info:
        tracking.add([request_for("B07QK9XW3T")])
    assert API_KEY not in str(info.value)
    assert "key=***" in str(info.value)


def test_more_than_1000_trackings_are_split_into_batches(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    batches: list[list[str]] = []

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        assert request.body is not None
        asins = [o["asin"] for o in orjson.loads(request.body)]
        batches.append(asins)
        body = tracking_body(
            trackings=[keepa_tracking(a) for a in asins],
            tokens_consumed=len(asins),
            tokens_left=5000,
        )
        return 200, {"Content-Type": "application/json"}, orjson.dumps(body)

    keepa_http.add_callback(responses.POST, URL, callback=answer)
    asins = [f"B0TEST{i:04d}" for i in range(1200)]

    result = tracking.add([request_for(a) for a in asins])

    assert [len(b) for b in batches] == [1000, 200]
    assert [a for b in batches for a in b] == asins
    assert len(result.added) == 1200
    assert (result.requests, result.tokens_consumed) == (2, 1200)
    assert fake_time.sleeps == []  # 5,000 tokens left: no reason to wait


def test_add_waits_for_the_tokens_it_knows_it_lacks(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    keepa_http.get(f"{BASE_URL}/token", json=out_of_tokens_body(tokens_left=0, refill_in=10_000))
    keepa_http.post(URL, json=tracking_body(trackings=[keepa_tracking("B07QK9XW3T")]))
    tracking.http.check_tokens()
    tracking.add([request_for("B07QK9XW3T")])
    # 1 token at 20/min from 0: the next refill (10 s) and the 1 s margin, no 429 round trip.
    assert fake_time.sleeps == [pytest.approx(11.0)]


def test_429_then_success(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    keepa_http.post(URL, status=429, json=out_of_tokens_body(tokens_left=-37, refill_in=23_000))
    keepa_http.post(
        URL,
        json=tracking_body(
            trackings=[keepa_tracking("B07QK9XW3T"), keepa_tracking("B0CHX1W1XY")],
            tokens_consumed=2,
        ),
    )
    result = tracking.add([request_for("B07QK9XW3T"), request_for("B0CHX1W1XY")])
    # 2 tokens needed from -37 at 20/min: 2 refills -> 23 s + 60 s (+1 s margin).
    assert fake_time.sleeps == [pytest.approx(84.0)]
    assert len(keepa_http.calls) == 2
    assert body_json(keepa_http.calls[0]) == body_json(keepa_http.calls[1])  # same batch again
    assert [t.asin for t in result.added] == ["B07QK9XW3T", "B0CHX1W1XY"]
    assert result.tokens_consumed == 2


def test_5xx_is_retried(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    keepa_http.post(URL, status=503, body="Service Unavailable")
    keepa_http.post(URL, status=500, body="<html>oops</html>")
    keepa_http.post(URL, json=tracking_body(trackings=[keepa_tracking("B07QK9XW3T")]))
    result = tracking.add([request_for("B07QK9XW3T")])
    assert fake_time.sleeps == [0.5, 1.0]
    assert result.ok


def test_invalid_requests_are_refused_before_any_call(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    with pytest.raises(ValueError, match="more than one tracking request"):
        tracking.add([request_for("B07QK9XW3T"), request_for("b07qk9xw3t")])
    assert tracking.add([]).requests == 0
    with pytest.raises(ValueError, match="invalid ASIN"):
        tracking.get("B07-QK9")
    with pytest.raises(ValueError, match="absolute http"):
        tracking.set_webhook("keepa/notify")
    with pytest.raises(ValueError, match="before the Keepa epoch"):
        tracking.notifications(-1, revise=True)
    assert len(keepa_http.calls) == 0


# --- get, list, remove ----------------------------------------------------------------


def test_get_reads_the_tracking_object(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(
        URL,
        json=tracking_body(trackings=[load_json("tracking_object.json")]),
        match=[
            matchers.query_param_matcher(
                {"key": API_KEY, "type": "get", "asin": "B07QK9XW3T"}, strict_match=True
            )
        ],
    )
    lookup = tracking.get("b07qk9xw3t")
    found = lookup.tracking
    assert found is not None
    assert (found.asin, found.main_market, found.is_active) == ("B07QK9XW3T", Market.DE, True)
    assert found.created_at == datetime(2025, 3, 13, 9, 30, tzinfo=UTC)
    assert found.thresholds == (
        ThresholdValue(Market.DE, PriceType.AMAZON, 2350, is_drop=True),
        ThresholdValue(Market.DE, PriceType.NEW_FBA, 2350, is_drop=True),  # last of its history
        ThresholdValue(Market.FR, PriceType.BUY_BOX_SHIPPING, 3150, is_drop=False),
        ThresholdValue(Market.GB, PriceType.BUY_BOX_SHIPPING, 3395, is_drop=False),
    )
    assert found.notify_if == (NotifyIf(Market.DE, PriceType.NEW_FBA, NotifyIfType.BACK_IN_STOCK),)
    assert found.notifies_via_api
    assert (found.update_interval_h, found.ttl_h, found.rearm_after_min) == (1, 0, -1)
    assert found.last_notified_at == datetime(2025, 3, 14, 9, 11, tzinfo=UTC)
    assert lookup.tokens_consumed == 0


@pytest.mark.parametrize("status", [200, 400])
def test_get_of_an_untracked_asin_is_none(
    status: int, tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(
        URL,
        status=status,
        json=tracking_body(error={"type": "notFound", "message": "No tracking for B0CHX1W1XY"}),
    )
    assert tracking.get("B0CHX1W1XY").tracking is None


def test_list_asks_for_asins_only(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(
        URL,
        json=load_json("tracking_list_response.json"),
        match=[
            matchers.query_param_matcher(
                {"key": API_KEY, "type": "list", "asins-only": "1"}, strict_match=True
            )
        ],
    )
    listed = tracking.list_asins()
    assert listed.asins == ("B07QK9XW3T", "B0CHX1W1XY", "3499626225")
    assert listed.refill_rate == 19


def test_list_of_a_malformed_asin_is_a_keepa_error(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(URL, json=tracking_body(asinList=["B07QK9XW3T", 42]))
    with pytest.raises(KeepaError, match="malformed ASINs"):
        tracking.list_asins()


def test_remove(tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock) -> None:
    keepa_http.get(
        URL,
        json=tracking_body(),
        match=[
            matchers.query_param_matcher(
                {"type": "remove", "asin": "B07QK9XW3T"}, strict_match=False
            )
        ],
    )
    keepa_http.get(
        URL,
        status=400,
        json=tracking_body(error={"type": "notFound", "message": "not tracked"}),
        match=[
            matchers.query_param_matcher(
                {"type": "remove", "asin": "B0CHX1W1XY"}, strict_match=False
            )
        ],
    )
    assert tracking.remove("B07QK9XW3T").was_tracked
    assert not tracking.remove("B0CHX1W1XY").was_tracked


def test_remove_all(tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock) -> None:
    keepa_http.get(
        URL,
        json=tracking_body(refill_rate=20),
        match=[
            matchers.query_param_matcher({"key": API_KEY, "type": "removeAll"}, strict_match=True)
        ],
    )
    assert tracking.remove_all().refill_rate == 20


def test_a_named_list_is_sent_with_every_request_but_the_webhook(
    client: KeepaProductClient, keepa_http: responses.RequestsMock
) -> None:
    named = KeepaTrackingClient(client, tracking_list="gb-sell")
    keepa_http.get(URL, json=tracking_body(asinList=[]))
    keepa_http.post(URL, json=tracking_body(trackings=[keepa_tracking("B07QK9XW3T")]))
    named.list_asins()
    named.add([request_for("B07QK9XW3T")])
    named.set_webhook(WEBHOOK)
    lists = [query_of(c.request).get("list") for c in keepa_http.calls]
    assert lists == ["gb-sell", "gb-sell", None]
    with pytest.raises(ValueError, match="1 to 64 characters"):
        KeepaTrackingClient(client, tracking_list="x" * 65)


# --- webhook --------------------------------------------------------------------------


def test_set_webhook_keeps_the_url_secret(
    tracking: KeepaTrackingClient,
    keepa_http: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    keepa_http.get(
        URL,
        json=tracking_body(),
        match=[
            matchers.query_param_matcher(
                {"key": API_KEY, "type": "webhook", "url": WEBHOOK}, strict_match=True
            )
        ],
    )
    result = tracking.set_webhook(WEBHOOK)
    # urllib3 logs the request line, URL-encoded.
    encoded = requests.Request("GET", URL, params={"url": WEBHOOK}).prepare().path_url
    logging.getLogger("urllib3.connectionpool").debug('"GET %s HTTP/1.1" 200 98', encoded)

    secret = WEBHOOK.rsplit("/", 1)[1]
    assert secret not in caplog.text
    assert "webhook set" in caplog.text
    assert secret not in repr(result)
    assert secret not in repr(tracking)


def test_a_refused_webhook_raises_without_the_url(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(
        URL,
        json=tracking_body(
            error={"type": "invalidParameter", "message": f"invalid webhook URL: {WEBHOOK}"}
        ),
    )
    with pytest.raises(KeepaError, match="invalid webhook URL") as info:
        tracking.set_webhook(WEBHOOK)
    assert WEBHOOK.rsplit("/", 1)[1] not in str(info.value)


# --- notifications --------------------------------------------------------------------


def test_notification_queue_read_with_since_and_revise(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(
        URL,
        json=load_json("notification_queue_response.json"),
        match=[
            matchers.query_param_matcher(
                {"key": API_KEY, "type": "notification", "since": "7468050", "revise": "1"},
                strict_match=True,
            )
        ],
    )
    received = datetime(2025, 3, 14, 9, 31, tzinfo=UTC)

    queue = tracking.notifications(
        datetime(2025, 3, 14, 3, 30, 59, tzinfo=UTC), revise=True, received_at=received
    )

    assert queue.since_minutes == 7468050
    assert queue.rejected == ()
    assert [(n.asin, n.cause) for n in queue.notifications] == [
        ("B0CHX1W1XY", NotificationCause.OUT_STOCK),
        ("B07QK9XW3T", NotificationCause.DESIRED_PRICE),
        ("3499626225", NotificationCause.EXPIRED),
    ]
    assert {n.source for n in queue.notifications} == {"queue"}
    assert {n.received_at for n in queue.notifications} == {received}
    out_of_stock, desired, expired = queue.notifications
    assert out_of_stock.has_no_offer(PriceType.NEW_FBA)
    assert out_of_stock.price(PriceType.NEW_FBA) is None
    assert desired.market is Market.FR
    assert desired.price(PriceType.BUY_BOX_SHIPPING) == 3290
    assert expired.current_prices is None


def test_notification_queue_since_in_keepa_minutes_without_revise(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(
        URL,
        json=tracking_body(notifications=[]),
        match=[matchers.query_param_matcher({"since": "0", "revise": "0"}, strict_match=False)],
    )
    queue = tracking.notifications(0, revise=False)
    assert queue.notifications == ()
    assert not queue.revise


def test_an_invalid_queue_item_is_rejected_not_raised(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    good = load_json("notification.json")
    keepa_http.get(
        URL,
        json=tracking_body(notifications=[{**good, "domainId": 1}, good, "nonsense"]),
    )
    queue = tracking.notifications(0, revise=True)
    assert [n.asin for n in queue.notifications] == ["B07QK9XW3T"]
    assert [(r.position, r.error.code) for r in queue.rejected] == [
        (0, "unknown_domain"),
        (2, "not_an_object"),
    ]


def test_a_malformed_queue_response_is_a_keepa_error(
    tracking: KeepaTrackingClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(URL, json=tracking_body(notifications={"asin": "B07QK9XW3T"}))
    with pytest.raises(KeepaError, match="'notifications' is not a list"):
        tracking.notifications(0, revise=True)


# --- shared transport and secrets -----------------------------------------------------


def test_the_token_state_is_the_product_clients(
    client: KeepaProductClient, keepa_http: responses.RequestsMock
) -> None:
    keepa_http.get(URL, json=tracking_body(tokens_left=777, asinList=[]))
    KeepaTrackingClient(client).list_asins()
    assert client.reported_token_state is not None
    assert client.reported_token_state.tokens_left == 777


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_key_never_logged_or_shown(
    tracking: KeepaTrackingClient,
    keepa_http: responses.RequestsMock,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    keepa_http.post(URL, status=429, json=out_of_tokens_body(tokens_left=-5))
    keepa_http.post(URL, status=500, body="oops")
    keepa_http.post(URL, json=load_json("tracking_add_response.json"))
    keepa_http.get(URL, json=load_json("notification_queue_response.json"))
    leaky = requests.ConnectionError(f"Max retries exceeded with url: /tracking?key={API_KEY}")
    keepa_http.get(URL, body=leaky)

    added = tracking.add([request_for("B07QK9XW3T"), request_for("B0BADASIN1")])
    queue = tracking.notifications(0, revise=True)
    with pytest.raises(KeepaError) as info:
        tracking.remove_all()

    logging.getLogger("urllib3.connectionpool").debug(
        '"POST /tracking?key=%s&type=add HTTP/1.1" 200 4096', API_KEY
    )
    assert len(debug_logs.records) >= 4
    assert API_KEY not in debug_logs.text
    assert "key=***" in debug_logs.text
    for shown in (added, queue, tracking, info.value):
        assert API_KEY not in repr(shown)
    assert API_KEY not in str(info.value)
    assert info.value.__context__ is None
    assert API_KEY not in str(vars(tracking.http))
