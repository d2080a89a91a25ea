"""One Keepa notification object (webhook body or queue item) -> the keepa.notifications
message: fields, -1 = no offer, dedup identity, and a clear error for every bad body."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from keepa_fakes import DATA, load_json

from app.contracts.base import ContractError
from app.contracts.keepa_notifications import (
    KEEPA_NOTIFICATION,
    NotificationCause,
)
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.keepa.tracking import convert_notification, parse_notification

RECEIVED = datetime(2025, 3, 14, 9, 11, 4, tzinfo=UTC)
WEBHOOK_BODY = (DATA / "notification.json").read_bytes()


def webhook(body: bytes | str = WEBHOOK_BODY) -> Any:
    return parse_notification(body, source="webhook", received_at=RECEIVED)


def with_changes(**changes: Any) -> bytes:
    obj = {**load_json("notification.json"), **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()


def test_webhook_body_becomes_a_typed_message() -> None:
    message = webhook()
    assert message.asin == "B07QK9XW3T"
    assert message.market is Market.FR  # notificationDomainId: whose prices these are
    assert message.tracking_market is Market.DE  # domainId: the tracking's main market
    assert message.trigger is PriceType.BUY_BOX_SHIPPING
    assert message.cause is NotificationCause.DESIRED_PRICE
    assert message.created_at == datetime(2025, 3, 14, 9, 11, tzinfo=UTC)
    assert message.meta_data == "arbitrage-tracker: break-even thresholds of 2025-03-13T09:30Z"
    assert message.tracking_list is None
    assert (message.source, message.received_at) == ("webhook", RECEIVED)
    assert message.current_prices is not None
    assert len(message.current_prices) == len(PriceType)
    assert KEEPA_NOTIFICATION.decode(KEEPA_NOTIFICATION.encode(message)) == message


def test_minus_one_means_no_offer() -> None:
    message = webhook()
    assert message.price(PriceType.BUY_BOX_SHIPPING) == 3290
    assert message.price(PriceType.NEW_FBA) == 3290
    assert message.price(PriceType.AMAZON) == 3290
    # USED is -1: no offer, not a price of -1 cents.
    assert message.current_prices is not None
    assert message.current_prices[PriceType.USED] == -1
    assert message.price(PriceType.USED) is None
    assert message.has_no_offer(PriceType.USED)
    assert not message.has_no_offer(PriceType.NEW)


def test_no_data_and_short_arrays_are_not_offers_either() -> None:
    prices = [3290, None, -2] + [-1] * 15 + [3290]
    message = webhook(with_changes(currentPrices=prices))
    assert message.current_prices is not None
    assert message.current_prices[:3] == [3290, -2, -2]  # a null entry is no data
    # NEW is null, USED is -2, COUNT_NEW_FBM is beyond the array.
    for price_type in (PriceType.NEW, PriceType.USED, PriceType.COUNT_NEW_FBM):
        assert message.price(price_type) is None
        assert not message.has_no_offer(price_type)


def test_the_queue_copy_is_the_same_notification() -> None:
    """Keepa's queue item differs from the pushed one in ttl, sentNotificationVia, title..."""
    queued = load_json("notification_queue_response.json")["notifications"][1]
    assert queued["ttl"] != load_json("notification.json")["ttl"]
    later = datetime(2025, 3, 14, 9, 45, tzinfo=UTC)
    from_queue = convert_notification(
        {**queued, "sentNotificationVia": [False] * 7, "title": "edited", "metaData": "new"},
        source="queue",
        received_at=later,
    )
    from_webhook = webhook()
    assert from_queue.notification_id == from_webhook.notification_id
    assert (from_queue.source, from_queue.received_at) == ("queue", later)


@pytest.mark.parametrize(
    "change",
    [
        {"createDate": 7468392},
        {"trackingNotificationCause": 6},
        {"csvType": 10},
        {"notificationDomainId": 3},
        {"domainId": 4},
        {"asin": "B0CHX1W1XY"},
        {"trackingListName": "gb-sell"},
        {"currentPrices": [3291, *load_json("notification.json")["currentPrices"][1:]]},
    ],
)
def test_another_notification_has_another_identity(change: dict[str, Any]) -> None:
    assert webhook(with_changes(**change)).notification_id != webhook().notification_id


def test_identity_is_recomputable_from_the_message() -> None:
    message = webhook()
    assert len(message.notification_id) == 32
    assert message.identity() == message.notification_id
    # Pinned: ids are kept to recognise duplicates, so the recipe must not drift.
    assert message.notification_id == "2c7efc20551505df6166a88a075f48ec"


def test_an_expired_tracking_has_no_prices() -> None:
    expired = load_json("notification_queue_response.json")["notifications"][2]
    message = convert_notification(expired, source="queue", received_at=RECEIVED)
    assert message.cause is NotificationCause.EXPIRED
    assert message.current_prices is None
    assert message.price(PriceType.AMAZON) is None


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b'{"asin": "B07QK9XW3T",', "malformed_json", "not valid JSON"),
        (b"[1, 2]", "not_an_object", "must be a JSON object"),
        (b"null", "not_an_object", "must be a JSON object"),
        (with_changes(asin=...), "invalid_asin", "missing required field `asin`"),
        (with_changes(asin="b07qk9xw3t"), "invalid_asin", "at `$.asin`"),
        (with_changes(asin=12345), "invalid_asin", "Expected `str`, got `int`"),
        (with_changes(domainId=1), "unknown_domain", "domainId 1 is not one of our markets"),
        (with_changes(notificationDomainId=5), "unknown_domain", "notificationDomainId 5"),
        (with_changes(notificationDomainId="4"), "unknown_domain", "got `str`"),
        (with_changes(domainId=...), "unknown_domain", "missing required field `domainId`"),
        (with_changes(csvType=36), "unknown_price_type", "csvType 36"),
        (with_changes(csvType=18.0), "unknown_price_type", "got `float`"),
        (with_changes(trackingNotificationCause=7), "unknown_cause", "7"),
        (with_changes(trackingNotificationCause=True), "unknown_cause", "got `bool`"),
        (with_changes(createDate="7468391"), "bad_timestamp", "got `str`"),
        (with_changes(createDate=-1), "bad_timestamp", "not a Keepa minute"),
        (with_changes(createDate=10**12), "bad_timestamp", "not a Keepa minute"),
        (with_changes(currentPrices=...), "missing_prices", "has no currentPrices"),
        (with_changes(currentPrices=None), "missing_prices", "has no currentPrices"),
        (with_changes(currentPrices="3290"), "nonsense_price", "Expected `array"),
        (with_changes(currentPrices=[3290, "3190"]), "nonsense_price", "currentPrices[1]"),
        (with_changes(currentPrices=[3290, -7]), "nonsense_price", "currentPrices[1] = -7"),
        (
            with_changes(currentPrices=[*[-1] * 18, 20_000_000]),
            "nonsense_price",
            "(BUY_BOX_SHIPPING) = 20000000 is out of range",
        ),
        (with_changes(metaData=5), "invalid_shape", "at `$.metaData`"),
    ],
)
def test_invalid_bodies_are_contract_errors(body: bytes, code: str, says: str) -> None:
    with pytest.raises(ContractError) as info:
        webhook(body)
    assert info.value.code == code
    assert says in info.value.message


def test_sales_rank_and_counts_are_not_range_checked_as_prices() -> None:
    prices = load_json("notification.json")["currentPrices"]
    prices[PriceType.SALES] = 24_500_000  # a rank in a large category
    assert webhook(with_changes(currentPrices=prices)).current_prices is not None


def test_received_at_must_be_aware() -> None:
    with pytest.raises(ValueError, match="received_at must be timezone-aware"):
        parse_notification(WEBHOOK_BODY, source="webhook", received_at=datetime(2025, 3, 14))


def test_a_decoded_item_is_not_json_text() -> None:
    with pytest.raises(ContractError) as info:
        convert_notification('{"asin": "B07QK9XW3T"}', source="queue", received_at=RECEIVED)
    assert info.value.code == "not_an_object"
