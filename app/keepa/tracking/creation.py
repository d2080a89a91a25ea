"""What we ask Keepa to track: Keepa's "tracking creation object" (the body of
``/tracking?type=add``), with its ``thresholdValues`` and ``notifyIf`` entries.

Format (Keepa's "Tracking Creation Object" documentation; the Java reference client's
``TrackingRequest``, ``Tracking.TrackingThresholdValue`` and ``Tracking.TrackingNotifyIf``)::

    {"asin": "B07QK9XW3T", "ttl": 0, "expireNotify": true,
     "desiredPricesInMainCurrency": false, "mainDomainId": 3, "updateInterval": 1,
     "metaData": "...", "individualNotificationInterval": -1,
     "notificationType": [false, false, false, false, false, true, false],
     "thresholdValues": [{"thresholdValue": 2599, "domain": 4, "csvType": 18, "isDrop": false}],
     "notifyIf": [{"domain": 3, "csvType": 10, "notifyIfType": 1}]}

There is one tracking per ASIN (per named list), whatever the markets: a single tracking
holds the thresholds of every market. Keepa keeps the threshold values "in the currency of
the mainDomainId"; with ``desiredPricesInMainCurrency`` false (our default) each value is
given in its own market's currency and Keepa converts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

from app.domain.asin import normalise_asin
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market

__all__ = [
    "API_NOTIFICATION_TYPE",
    "MAX_META_DATA_CHARS",
    "MAX_UPDATE_INTERVAL_H",
    "NotifyIf",
    "NotifyIfType",
    "ThresholdValue",
    "TrackingRequest",
    "notifies_via_api",
]

#: ``notificationType`` of a tracking that notifies through the API only (webhook push and
#: the notification queue): Keepa's ``NotificationType`` has 7 channels, API is index 5 and
#: the only channel the tracking API supports.
API_NOTIFICATION_TYPE: Final = (False, False, False, False, False, True, False)
_API_CHANNEL: Final = 5

#: Keepa refuses ``metaData`` longer than this.
MAX_META_DATA_CHARS: Final = 500
#: Keepa's ``updateInterval`` is at most 25 hours.
MAX_UPDATE_INTERVAL_H: Final = 25


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class NotifyIfType(IntEnum):
    """Keepa's ``Tracking.NotifyIfType``: meta triggers of a price type."""

    OUT_OF_STOCK = 0
    BACK_IN_STOCK = 1


@dataclass(frozen=True, slots=True)
class ThresholdValue:
    """Notify when ``price_type`` in ``market`` drops below (``is_drop``) or rises above
    ``value``, in minor units (of ``market``'s currency with ``desiredPricesInMainCurrency``
    false, of the main market's otherwise; Keepa reports them in the main market's)."""

    market: Market
    price_type: PriceType
    value: int
    is_drop: bool

    def __post_init__(self) -> None:
        if not _is_int(self.value) or self.value < 0:
            raise ValueError(f"threshold value must be a non-negative integer, got {self.value!r}")
        object.__setattr__(self, "price_type", PriceType(self.price_type))

    def to_keepa(self) -> dict[str, Any]:
        """Keepa's ``TrackingThresholdValue`` (creation form)."""
        return {
            "thresholdValue": self.value,
            "domain": self.market.keepa_domain_id,
            "csvType": int(self.price_type),
            "isDrop": self.is_drop,
        }


@dataclass(frozen=True, slots=True)
class NotifyIf:
    """Notify when ``price_type`` in ``market`` goes out of stock or comes back."""

    market: Market
    price_type: PriceType
    kind: NotifyIfType

    def __post_init__(self) -> None:
        object.__setattr__(self, "price_type", PriceType(self.price_type))
        object.__setattr__(self, "kind", NotifyIfType(self.kind))

    def to_keepa(self) -> dict[str, Any]:
        """Keepa's ``TrackingNotifyIf``."""
        return {
            "domain": self.market.keepa_domain_id,
            "csvType": int(self.price_type),
            "notifyIfType": int(self.kind),
        }


@dataclass(frozen=True, slots=True)
class TrackingRequest:
    """One tracking to add (or replace: adding an ASIN already tracked overrides it and
    reactivates it). Notifications go through the API channel (webhook and queue) only.

    ``update_interval_h``: how often Keepa refreshes the product, 1-25 hours (Keepa also
    accepts 0, whose meaning it does not document; the Java client raises it to 1).
    ``ttl_h``: hours until the tracking expires, 0 = never; negative = keep the ttl of an
    existing tracking (a new one gets the absolute value). ``rearm_after_min`` (Keepa's
    ``individualNotificationInterval``): -1 = the account's default, 0 = notify a threshold
    once only, n > 0 = rearm a threshold n minutes after it fired.
    """

    asin: str
    main_market: Market
    thresholds: tuple[ThresholdValue, ...] = ()
    notify_if: tuple[NotifyIf, ...] = ()
    update_interval_h: int = 1
    ttl_h: int = 0
    expire_notify: bool = True
    rearm_after_min: int = -1
    desired_prices_in_main_currency: bool = False
    meta_data: str | None = field(default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "asin", normalise_asin(self.asin))
        object.__setattr__(self, "thresholds", tuple(self.thresholds))
        object.__setattr__(self, "notify_if", tuple(self.notify_if))
        interval = self.update_interval_h
        if not _is_int(interval) or not 1 <= interval <= MAX_UPDATE_INTERVAL_H:
            raise ValueError(
                f"update_interval_h must be 1 to {MAX_UPDATE_INTERVAL_H} hours, got {interval!r}"
            )
        if not _is_int(self.ttl_h):
            raise ValueError(f"ttl_h must be an integer, got {self.ttl_h!r}")
        if not _is_int(self.rearm_after_min) or self.rearm_after_min < -1:
            raise ValueError(f"rearm_after_min must be -1 or more, got {self.rearm_after_min!r}")
        if self.meta_data is not None and len(self.meta_data) > MAX_META_DATA_CHARS:
            raise ValueError(f"meta_data is longer than {MAX_META_DATA_CHARS} characters")

    @property
    def markets(self) -> frozenset[Market]:
        """The markets the tracking watches (each one costs refill rate: see
        :mod:`app.keepa.tracking.cost`)."""
        return frozenset([t.market for t in self.thresholds] + [n.market for n in self.notify_if])

    def to_keepa(self) -> dict[str, Any]:
        """Keepa's tracking creation object."""
        body: dict[str, Any] = {
            "asin": self.asin,
            "ttl": self.ttl_h,
            "expireNotify": self.expire_notify,
            "desiredPricesInMainCurrency": self.desired_prices_in_main_currency,
            "mainDomainId": self.main_market.keepa_domain_id,
            "updateInterval": self.update_interval_h,
            "notificationType": list(API_NOTIFICATION_TYPE),
            "individualNotificationInterval": self.rearm_after_min,
            "thresholdValues": [t.to_keepa() for t in self.thresholds],
            "notifyIf": [n.to_keepa() for n in self.notify_if],
        }
        if self.meta_data is not None:
            body["metaData"] = self.meta_data
        return body


def notifies_via_api(notification_type: object) -> bool:
    """A tracking's ``notificationType`` (Keepa's boolean array) includes the API channel."""
    return (
        isinstance(notification_type, list | tuple)
        and len(notification_type) > _API_CHANNEL
        and notification_type[_API_CHANNEL] is True
    )
