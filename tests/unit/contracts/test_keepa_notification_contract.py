"""keepa.notifications: the message consumers decode, its invariants and its causes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from keepa.models.backend import TrackingNotificationCause

from app.contracts.base import ContractError
from app.contracts.keepa_notifications import (
    KEEPA_NOTIFICATION,
    KeepaNotification,
    NotificationCause,
    notification_from_message,
)
from app.contracts.registry import contract_of
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market

CREATED = datetime(2025, 3, 14, 9, 11, tzinfo=UTC)
RECEIVED = datetime(2025, 3, 14, 9, 11, 4, tzinfo=UTC)


def message(**changes: Any) -> KeepaNotification:
    fields: dict[str, Any] = {
        "asin": "B07QK9XW3T",
        "market": Market.FR,
        "tracking_market": Market.DE,
        "price_type": PriceType.BUY_BOX_SHIPPING,
        "cause": NotificationCause.DESIRED_PRICE,
        "created_at": CREATED,
        "current_prices": [3290, 3190, -1] + [-1] * 15 + [3290],
        "source": "webhook",
        "received_at": RECEIVED,
        **changes,
    }
    return KeepaNotification.create(**fields)


def as_json(msg: KeepaNotification, **changes: Any) -> bytes:
    return msgspec.json.encode({**msgspec.to_builtins(msg), **changes})


def test_the_topic_is_registered_keyed_by_asin() -> None:
    contract = contract_of("keepa.notifications")
    assert contract.value is KeepaNotification
    assert contract.key == "the ASIN"


def test_round_trip_and_wire_format() -> None:
    msg = message(meta_data="arbitrage-tracker", tracking_list="gb-sell")
    wire = msgspec.json.decode(KEEPA_NOTIFICATION.encode(msg))
    assert wire["schema_version"] == 1
    assert wire["market"] == "FR"
    assert wire["price_type"] == 18
    assert wire["cause"] == "DESIRED_PRICE"
    assert wire["created_at"] == "2025-03-14T09:11:00Z"
    assert KEEPA_NOTIFICATION.decode(KEEPA_NOTIFICATION.encode(msg)) == msg


def test_identity_ignores_how_and_when_it_was_received() -> None:
    pushed = message()
    queued = message(source="queue", received_at=datetime(2025, 3, 14, 10, tzinfo=UTC))
    assert pushed.notification_id == queued.notification_id
    assert message(meta_data="renamed").notification_id == pushed.notification_id
    assert message(created_at=CREATED.replace(minute=12)).notification_id != pushed.notification_id


@pytest.mark.parametrize(
    ("changes", "code", "says"),
    [
        ({"schema_version": 2}, "unsupported_version", "schema_version 2"),
        ({"notification_id": "not-a-digest"}, "invalid_shape", "notification_id"),
        ({"price_type": 36}, "invalid_shape", "price_type 36 is not a Keepa price type"),
        ({"current_prices": None}, "invalid_shape", "needs current_prices"),
        ({"current_prices": [1, -3]}, "invalid_shape", "current_prices[1]"),
        ({"market": "US"}, "invalid_shape", "market"),
        ({"cause": "SOMETHING"}, "invalid_shape", "cause"),
        ({"created_at": "2025-03-14T09:11:00"}, "invalid_shape", "created_at"),
        ({"source": "email"}, "invalid_shape", "source"),
    ],
)
def test_invalid_messages(changes: dict[str, Any], code: str, says: str) -> None:
    with pytest.raises(ContractError) as info:
        KEEPA_NOTIFICATION.decode(as_json(message(), **changes))
    assert info.value.code == code
    assert says in info.value.message


def test_an_expired_notification_may_have_no_prices() -> None:
    expired = message(cause=NotificationCause.EXPIRED, current_prices=None)
    assert KEEPA_NOTIFICATION.decode(KEEPA_NOTIFICATION.encode(expired)) == expired
    assert expired.price(PriceType.AMAZON) is None
    assert not expired.has_no_offer(PriceType.AMAZON)


def test_causes_are_keepas_codes() -> None:
    assert [c.keepa_code for c in NotificationCause] == list(range(7))
    assert NotificationCause.from_keepa(1) is NotificationCause.DESIRED_PRICE
    assert NotificationCause.from_keepa(6) is NotificationCause.DESIRED_PRICE_AGAIN
    for bad in (-1, 7, True, "1"):
        with pytest.raises(ValueError, match="unknown trackingNotificationCause"):
            NotificationCause.from_keepa(bad)  # type: ignore[arg-type]


def test_causes_agree_with_keepas_java_enum() -> None:
    assert [c.value for c in NotificationCause] == [c.value for c in TrackingNotificationCause]


# --- what the detector reads: notification_from_message --------------------------------------


def test_the_detector_reads_a_message_keyed_by_its_asin() -> None:
    sent = message()
    assert notification_from_message(b"B07QK9XW3T", KEEPA_NOTIFICATION.encode(sent)) == sent


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "missing_key"),
        (b"", "missing_key"),
        (b"b07qk9xw3t", "invalid_asin"),
        (b"B0OTHER001", "asin_mismatch"),
    ],
)
def test_a_message_without_its_asin_as_key_is_refused(key: bytes | None, code: str) -> None:
    with pytest.raises(ContractError) as refused:
        notification_from_message(key, KEEPA_NOTIFICATION.encode(message()))
    assert refused.value.code == code


def test_a_message_whose_id_is_not_its_identity_is_refused() -> None:
    forged = msgspec.structs.replace(message(), notification_id="0" * 32)
    with pytest.raises(ContractError) as refused:
        notification_from_message(b"B07QK9XW3T", KEEPA_NOTIFICATION.encode(forged))
    assert refused.value.code == "bad_notification_id"
    with pytest.raises(ContractError) as broken:
        notification_from_message(b"B07QK9XW3T", b"{")
    assert broken.value.code == "malformed_json"
