"""One Keepa notification object (a webhook POST body, or an item of the notification
queue) -> :class:`~app.contracts.keepa_notifications.KeepaNotification`.

Format (Keepa's "Notification Object" documentation; the Java reference client's
``Notification``)::

    {"asin": "B07QK9XW3T", "title": "...", "image": "...", "ttl": 1440,
     "createDate": 7468391, "domainId": 3, "notificationDomainId": 4, "csvType": 18,
     "trackingNotificationCause": 1, "currentPrices": [2899, 2749, -1, 1873, ...],
     "sentNotificationVia": [false, false, false, false, false, true, false],
     "metaData": "...", "trackingListName": "..."}

``domainId`` is the tracking's main market, ``notificationDomainId`` the market that
triggered the notification, whose currency ``currentPrices`` are in (Keepa's documentation;
the older Javadoc says the main market's). ``currentPrices`` is indexed by price type, ``-1``
= no offer; it is ``null`` for an EXPIRED notification. Whether a shipping type's value
(NEW_FBM_SHIPPING, BUY_BOX_SHIPPING) includes shipping, as ``stats.current`` does, is not
documented. ``title``, ``image``, ``ttl`` and ``sentNotificationVia`` are not kept.

Errors are :class:`~app.contracts.base.ContractError` with a stable code: ``malformed_json``,
``not_an_object``, ``invalid_asin``, ``unknown_domain`` (missing, not an integer, or not one
of our markets), ``unknown_price_type``, ``unknown_cause``, ``bad_timestamp``,
``missing_prices`` (no ``currentPrices`` outside an EXPIRED notification), ``nonsense_price``
(a value that is not an integer, below -2, or a price we read above
:data:`~app.domain.keepa_prices.MAX_PRICE_MINOR`), ``invalid_shape`` (anything else).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec

from app.contracts.base import Asin, ContractError, error_field
from app.contracts.keepa_notifications import (
    NO_DATA,
    KeepaNotification,
    NotificationCause,
    NotificationSource,
)
from app.domain.keepa_prices import MAX_PRICE_MINOR, PRICE_TYPES_READ, PriceType
from app.domain.keepa_time import from_keepa_minutes
from app.domain.markets import Market, UnknownMarketError
from app.domain.utc import require_utc

__all__ = ["convert_notification", "parse_notification"]


class _NotificationJson(msgspec.Struct, rename="camel"):
    asin: Asin
    domain_id: int
    notification_domain_id: int
    csv_type: int
    tracking_notification_cause: int
    create_date: int
    current_prices: list[int | None] | None = None
    meta_data: str | None = None
    tracking_list_name: str | None = None


_DECODER: Final = msgspec.json.Decoder(_NotificationJson)

#: The code of a shape error, by the Keepa field it is in.
_FIELD_CODES: Final = {
    "asin": "invalid_asin",
    "domainId": "unknown_domain",
    "notificationDomainId": "unknown_domain",
    "csvType": "unknown_price_type",
    "trackingNotificationCause": "unknown_cause",
    "createDate": "bad_timestamp",
    "currentPrices": "nonsense_price",
}


def parse_notification(
    body: bytes | str, *, source: NotificationSource, received_at: datetime
) -> KeepaNotification:
    """The message of one Keepa notification object in JSON (a webhook POST body);
    :class:`ContractError` when it is not one."""
    return _message(_decode(body), source, received_at)


def convert_notification(
    item: object, *, source: NotificationSource, received_at: datetime
) -> KeepaNotification:
    """The message of one already decoded Keepa notification object (an item of the queue
    response); :class:`ContractError` when it is not one."""
    return _message(_decode(item, decoded=True), source, received_at)


def _message(
    raw: _NotificationJson, source: NotificationSource, received_at: datetime
) -> KeepaNotification:
    received_at = require_utc(received_at, "received_at")
    market = _market(raw, raw.notification_domain_id, "notificationDomainId")
    tracking_market = _market(raw, raw.domain_id, "domainId")
    try:
        price_type = PriceType(raw.csv_type)
    except ValueError:
        raise ContractError(
            "unknown_price_type",
            f"Keepa notification of {raw.asin}: csvType {raw.csv_type} is not a Keepa price type",
        ) from None
    try:
        cause = NotificationCause.from_keepa(raw.tracking_notification_cause)
    except ValueError as exc:
        raise ContractError("unknown_cause", f"Keepa notification of {raw.asin}: {exc}") from None
    return KeepaNotification.create(
        asin=raw.asin,
        market=market,
        tracking_market=tracking_market,
        price_type=price_type,
        cause=cause,
        created_at=_created_at(raw),
        current_prices=_prices(raw, cause),
        source=source,
        received_at=received_at,
        meta_data=raw.meta_data,
        tracking_list=raw.tracking_list_name,
    )


def _decode(data: object, *, decoded: bool = False) -> _NotificationJson:
    try:
        if decoded:
            return msgspec.convert(data, _NotificationJson)
        if not isinstance(data, bytes | bytearray | memoryview | str):
            raise ContractError("malformed_json", f"not JSON text: {type(data).__name__}")
        return _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        text = str(exc)
        top = error_field(text)
        if top is None and text.startswith("Expected `object`"):
            raise ContractError(
                "not_an_object", f"a Keepa notification must be a JSON object: {text}"
            ) from None
        code = _FIELD_CODES.get(top, "invalid_shape") if top else "invalid_shape"
        raise ContractError(code, f"Keepa notification: {text}") from None
    except msgspec.DecodeError as exc:
        raise ContractError(
            "malformed_json", f"Keepa notification is not valid JSON: {exc}"
        ) from None


def _market(raw: _NotificationJson, domain_id: int, name: str) -> Market:
    try:
        return Market.from_keepa_domain_id(domain_id)
    except UnknownMarketError:
        ours = ", ".join(f"{m.value}={m.keepa_domain_id}" for m in Market)
        raise ContractError(
            "unknown_domain",
            f"Keepa notification of {raw.asin}: {name} {domain_id} is not one of our markets "
            f"({ours})",
        ) from None


def _created_at(raw: _NotificationJson) -> datetime:
    problem = f"createDate {raw.create_date} is not a Keepa minute"
    if raw.create_date < 0:
        raise ContractError("bad_timestamp", f"Keepa notification of {raw.asin}: {problem}")
    try:
        return from_keepa_minutes(raw.create_date)
    except OverflowError:
        raise ContractError(
            "bad_timestamp", f"Keepa notification of {raw.asin}: {problem}"
        ) from None


def _prices(raw: _NotificationJson, cause: NotificationCause) -> list[int] | None:
    if raw.current_prices is None:
        if cause is NotificationCause.EXPIRED:
            return None
        raise ContractError(
            "missing_prices", f"Keepa notification of {raw.asin} ({cause}) has no currentPrices"
        )
    # A null entry (Keepa's Java type cannot hold one, its Python models allow it) is no data.
    prices = [NO_DATA if v is None else v for v in raw.current_prices]
    for index, value in enumerate(prices):
        if value < NO_DATA:
            raise ContractError(
                "nonsense_price",
                f"Keepa notification of {raw.asin}: currentPrices[{index}] = {value}",
            )
    for price_type in PRICE_TYPES_READ:
        if price_type < len(prices) and prices[price_type] > MAX_PRICE_MINOR:
            raise ContractError(
                "nonsense_price",
                f"Keepa notification of {raw.asin}: currentPrices[{price_type}] "
                f"({price_type.name}) = {prices[price_type]} is out of range",
            )
    return prices
