"""A tracking as Keepa returns it: Keepa's "tracking object" (``trackings`` of the add, get
and list responses).

Format (Keepa's "Tracking Object" documentation; the Java reference client's ``Tracking``)::

    {"asin": "B07QK9XW3T", "createDate": 7468380, "isActive": true, "ttl": 0,
     "expireNotify": true, "mainDomainId": 3, "updateInterval": 1, "metaData": "...",
     "thresholdValues": [{"thresholdValueCSV": [7468380, 2599], "domain": 4, "csvType": 18,
                          "isDrop": false}],
     "notifyIf": [...], "notificationType": [false, false, false, false, false, true, false],
     "notificationCSV": [4, 18, 5, 1, 7468391], "individualNotificationInterval": -1}

A returned threshold carries the history of its values (``thresholdValueCSV``: ``[keepaMinute,
value, ...]``, in the main market's currency), not ``thresholdValue``; its current value is
the last one. ``notificationCSV`` lists past notifications, five integers each: domain, price
type, channel, cause, Keepa minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from app.contracts.base import Asin
from app.domain.keepa_prices import PriceType
from app.domain.keepa_time import from_keepa_minutes
from app.domain.markets import Market, UnknownMarketError
from app.keepa.http import KeepaError
from app.keepa.tracking.creation import NotifyIf, NotifyIfType, ThresholdValue, notifies_via_api

__all__ = ["Tracking"]

_NOTIFICATION_CSV_STRIDE = 5


class _ThresholdJson(msgspec.Struct, rename="camel"):
    domain: int
    csv_type: int
    is_drop: bool
    threshold_value_csv: list[int | None] | None = msgspec.field(
        default=None, name="thresholdValueCSV"
    )
    threshold_value: int | None = None


class _NotifyIfJson(msgspec.Struct, rename="camel"):
    domain: int
    csv_type: int
    notify_if_type: int


class _TrackingJson(msgspec.Struct, rename="camel"):
    asin: Asin
    create_date: int
    main_domain_id: int
    update_interval: int
    is_active: bool = True
    ttl: int = 0
    expire_notify: bool = False
    meta_data: str | None = None
    tracking_list_name: str | None = None
    threshold_values: list[_ThresholdJson] | None = None
    notify_if: list[_NotifyIfJson] | None = None
    notification_type: list[bool | None] | None = None
    notification_csv: list[int | None] | None = msgspec.field(default=None, name="notificationCSV")
    individual_notification_interval: int = -1


@dataclass(frozen=True, slots=True)
class Tracking:
    """One of our trackings, as Keepa holds it. ``thresholds`` are the current values, in
    minor units of ``main_market``'s currency (Keepa converts the others)."""

    asin: str
    main_market: Market
    created_at: datetime
    is_active: bool
    """False when Keepa deactivated it (the API plan no longer pays for it)."""
    update_interval_h: int
    ttl_h: int
    expire_notify: bool
    thresholds: tuple[ThresholdValue, ...]
    notify_if: tuple[NotifyIf, ...]
    notifies_via_api: bool
    rearm_after_min: int
    meta_data: str | None
    tracking_list: str | None
    last_notified_at: datetime | None
    """When Keepa last notified for this tracking (``None``: never)."""

    @classmethod
    def from_keepa(cls, obj: Any) -> Tracking:
        """The tracking of one Keepa tracking object; :class:`KeepaError` when it is not one
        (or names a market we do not track)."""
        try:
            raw = msgspec.convert(obj, _TrackingJson)
        except msgspec.ValidationError as exc:
            asin = obj.get("asin") if isinstance(obj, Mapping) else None
            raise KeepaError(f"Keepa tracking object of {asin!r} is invalid: {exc}") from None
        try:
            return cls(
                asin=raw.asin,
                main_market=Market.from_keepa_domain_id(raw.main_domain_id),
                created_at=from_keepa_minutes(raw.create_date),
                is_active=raw.is_active,
                update_interval_h=raw.update_interval,
                ttl_h=raw.ttl,
                expire_notify=raw.expire_notify,
                thresholds=tuple(_threshold(t) for t in raw.threshold_values or ()),
                notify_if=tuple(
                    NotifyIf(
                        Market.from_keepa_domain_id(n.domain),
                        PriceType(n.csv_type),
                        NotifyIfType(n.notify_if_type),
                    )
                    for n in raw.notify_if or ()
                ),
                notifies_via_api=notifies_via_api(raw.notification_type),
                rearm_after_min=raw.individual_notification_interval,
                meta_data=raw.meta_data,
                tracking_list=raw.tracking_list_name,
                last_notified_at=_last_notified(raw.notification_csv),
            )
        except (UnknownMarketError, ValueError, OverflowError) as exc:
            raise KeepaError(f"Keepa tracking object of {raw.asin} is invalid: {exc}") from None


def _threshold(raw: _ThresholdJson) -> ThresholdValue:
    history = [v for v in raw.threshold_value_csv or () if v is not None]
    if len(history) >= 2 and len(history) % 2 == 0:
        value = history[-1]
    elif raw.threshold_value is not None:
        value = raw.threshold_value
    else:
        raise ValueError(
            f"threshold of domain {raw.domain}, csvType {raw.csv_type} has no value "
            f"(thresholdValueCSV {raw.threshold_value_csv!r})"
        )
    return ThresholdValue(
        Market.from_keepa_domain_id(raw.domain), PriceType(raw.csv_type), value, raw.is_drop
    )


def _last_notified(notification_csv: list[int | None] | None) -> datetime | None:
    if not notification_csv:
        return None
    times = [
        t
        for t in notification_csv[_NOTIFICATION_CSV_STRIDE - 1 :: _NOTIFICATION_CSV_STRIDE]
        if t is not None and t >= 0
    ]
    return from_keepa_minutes(max(times)) if times else None
