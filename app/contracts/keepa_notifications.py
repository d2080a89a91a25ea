"""``keepa.notifications``: one Keepa tracking notification, as received (issue 11).

Key: the ASIN. Keepa pushes a notification (one JSON object per HTTP POST) to our webhook
when a tracked product crosses a threshold we set, and keeps it 24 hours in a queue that
``/tracking?type=notification`` reads. Both copies are turned into a :class:`KeepaNotification`
by :func:`app.keepa.tracking.notifications.parse_notification` (the Keepa JSON is read next
to the Keepa client); this module is the message that travels on the topic.

Dedup identity (:attr:`KeepaNotification.notification_id`): Keepa gives a notification no id.
Ours is a 128-bit BLAKE2b digest (32 hex characters) of the fields Keepa fixes when it
creates the notification, in Keepa's own codes: the tracking list name (``""`` for the
default list), the ASIN, ``domainId``, ``notificationDomainId``, ``csvType``,
``trackingNotificationCause``, ``createDate`` (Keepa minutes) and ``currentPrices``. The same
notification received twice by the webhook (Keepa retries once after ~15 s), or once by the
webhook and once from the queue, has the same id. Left out because they can differ between
two copies of one notification: ``ttl`` (the minutes it has left in the queue),
``sentNotificationVia`` (set once delivered), and the product's ``title``, ``image`` and the
tracking's ``metaData`` (Keepa's display data, not the event). Two notifications of one ASIN,
market, price type and cause created in the same minute with the same prices are the same
event for us.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

import msgspec

from app.contracts.base import Asin, Codec, ContractError, Message, UtcDatetime, Version1, describe
from app.domain.asin import is_valid_asin
from app.domain.keepa_prices import NO_DATA, NO_OFFER, PriceType
from app.domain.keepa_time import to_keepa_minutes
from app.domain.markets import Market

__all__ = [
    "KEEPA_NOTIFICATION",
    "KEEPA_NOTIFICATIONS_TOPIC",
    "KEEPA_WEBHOOK_DLQ_TOPIC",
    "NO_DATA",
    "NO_OFFER",
    "KeepaNotification",
    "NotificationCause",
    "NotificationSource",
    "notification_from_message",
]

#: The topic (its default name, before ``TOPIC_PREFIX``) and the receiver's dead-letter
#: topic (bodies that never became a notification).
KEEPA_NOTIFICATIONS_TOPIC: Final = "keepa.notifications"
KEEPA_WEBHOOK_DLQ_TOPIC: Final = "keepa.webhook.dlq"

#: How a notification reached us: pushed to the webhook, or read from Keepa's queue.
NotificationSource = Literal["webhook", "queue"]


class NotificationCause(StrEnum):
    """Why Keepa notified (Keepa's ``trackingNotificationCause``; the Java reference client's
    ``Tracking.TrackingNotificationCause``, in the order that gives the codes)."""

    EXPIRED = "EXPIRED"
    """0: the tracking expired (or Keepa removed it); the notification has no prices."""
    DESIRED_PRICE = "DESIRED_PRICE"
    """1: a threshold was crossed for the first time."""
    PRICE_CHANGE = "PRICE_CHANGE"
    """2: in the Java client's enum, not in Keepa's documented table of causes."""
    PRICE_CHANGE_AFTER_DESIRED_PRICE = "PRICE_CHANGE_AFTER_DESIRED_PRICE"
    """3: the price changed after the threshold was met; rearmed, not crossed again since."""
    OUT_STOCK = "OUT_STOCK"
    """4: no offer of the price type any more."""
    IN_STOCK = "IN_STOCK"
    """5: the price type has an offer again."""
    DESIRED_PRICE_AGAIN = "DESIRED_PRICE_AGAIN"
    """6: the threshold was crossed again after the tracking was rearmed."""

    @property
    def keepa_code(self) -> int:
        """Keepa's integer for the cause."""
        return _CAUSES.index(self)

    @classmethod
    def from_keepa(cls, code: int) -> NotificationCause:
        """The cause of Keepa's integer; ``ValueError`` for an unknown one."""
        if isinstance(code, int) and not isinstance(code, bool) and 0 <= code < len(_CAUSES):
            return _CAUSES[code]
        raise ValueError(f"unknown trackingNotificationCause {code!r}")


_CAUSES: Final = tuple(NotificationCause)

_NotificationId = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$", description="dedup identity (module doc)")
]
_KeepaValue = Annotated[int, msgspec.Meta(ge=NO_DATA)]


class KeepaNotification(Message, kw_only=True, frozen=True):
    """One Keepa notification: the current prices of one ASIN in one market, when a
    threshold of its tracking fired (or the tracking expired).

    ``current_prices`` is Keepa's ``currentPrices`` unchanged: indexed by Keepa price type
    (:class:`~app.domain.keepa_prices.PriceType`), in minor units of ``market``'s currency,
    ``-1`` = no offer, ``-2`` = no data; some types are not prices (sales rank, rating,
    offer counts). Use :meth:`price` and :meth:`has_no_offer` rather than indexing it.
    """

    schema_version: Annotated[Version1, describe("1")] = 1
    notification_id: _NotificationId
    asin: Asin
    market: Annotated[
        Market,
        describe(
            "the market the notification is about (Keepa notificationDomainId); "
            "current_prices are in its currency"
        ),
    ]
    tracking_market: Annotated[Market, describe("the main market of the tracking (Keepa domainId)")]
    price_type: Annotated[
        int, describe("the Keepa price type (csv index) whose threshold fired (Keepa csvType)")
    ]
    cause: Annotated[NotificationCause, describe("why Keepa notified (trackingNotificationCause)")]
    created_at: Annotated[
        UtcDatetime, describe("when Keepa created the notification (createDate, whole minutes)")
    ]
    current_prices: Annotated[
        list[_KeepaValue] | None,
        describe(
            "Keepa's currentPrices: one value per Keepa price type (index), minor units, "
            "-1 = no offer, -2 = no data; null only for an EXPIRED notification"
        ),
    ]
    meta_data: Annotated[str | None, describe("the tracking's metaData")] = None
    tracking_list: Annotated[
        str | None, describe("Keepa's trackingListName (null: the default list)")
    ] = None
    source: Annotated[NotificationSource, describe("webhook (pushed) or queue (read back)")]
    received_at: Annotated[UtcDatetime, describe("when we received it")]

    def __post_init__(self) -> None:
        if self.price_type not in _PRICE_TYPE_VALUES:
            raise ValueError(f"price_type {self.price_type} is not a Keepa price type")
        if self.current_prices is None and self.cause is not NotificationCause.EXPIRED:
            raise ValueError(f"a {self.cause} notification needs current_prices")

    @classmethod
    def create(
        cls,
        *,
        asin: str,
        market: Market,
        tracking_market: Market,
        price_type: PriceType,
        cause: NotificationCause,
        created_at: datetime,
        current_prices: list[int] | None,
        source: NotificationSource,
        received_at: datetime,
        meta_data: str | None = None,
        tracking_list: str | None = None,
    ) -> KeepaNotification:
        """The message, with its ``notification_id`` computed from the other fields."""
        prices = None if current_prices is None else list(current_prices)
        return cls(
            notification_id=_identity(
                tracking_list, asin, tracking_market, market, price_type, cause, created_at, prices
            ),
            asin=asin,
            market=market,
            tracking_market=tracking_market,
            price_type=int(price_type),
            cause=cause,
            created_at=created_at,
            current_prices=prices,
            meta_data=meta_data,
            tracking_list=tracking_list,
            source=source,
            received_at=received_at,
        )

    def identity(self) -> str:
        """The dedup identity recomputed from the fields (equals ``notification_id`` for a
        message built by :meth:`create`)."""
        return _identity(
            self.tracking_list,
            self.asin,
            self.tracking_market,
            self.market,
            PriceType(self.price_type),
            self.cause,
            self.created_at,
            self.current_prices,
        )

    @property
    def trigger(self) -> PriceType:
        """The price type whose threshold fired."""
        return PriceType(self.price_type)

    def _value(self, price_type: PriceType) -> int | None:
        prices = self.current_prices
        if prices is None or price_type >= len(prices):
            return None
        return prices[price_type]

    def price(self, price_type: PriceType) -> int | None:
        """The current value of ``price_type`` in minor units of :attr:`market`'s currency;
        ``None`` when there is no offer (-1), no data (-2), no value (0) or no entry."""
        value = self._value(price_type)
        return value if value is not None and value > 0 else None

    def has_no_offer(self, price_type: PriceType) -> bool:
        """Keepa says ``price_type`` has no offer now (-1), as opposed to no data or no entry."""
        return self._value(price_type) == NO_OFFER


_PRICE_TYPE_VALUES: Final = frozenset(int(t) for t in PriceType)


def _identity(
    tracking_list: str | None,
    asin: str,
    tracking_market: Market,
    market: Market,
    price_type: PriceType,
    cause: NotificationCause,
    created_at: datetime,
    current_prices: list[int] | None,
) -> str:
    fields = [
        tracking_list or "",
        asin,
        tracking_market.keepa_domain_id,
        market.keepa_domain_id,
        int(price_type),
        cause.keepa_code,
        to_keepa_minutes(created_at),
        current_prices,
    ]
    return hashlib.blake2b(msgspec.json.encode(fields), digest_size=16).hexdigest()


KEEPA_NOTIFICATION: Final = Codec(KeepaNotification)


def notification_from_message(key: bytes | None, value: bytes | None) -> KeepaNotification:
    """The notification of one raw ``keepa.notifications`` message (what the detector reads).

    :class:`ContractError` for a value that is not a :class:`KeepaNotification`, and with the
    codes ``missing_key`` (no key), ``invalid_asin`` (a key that is not an ASIN),
    ``asin_mismatch`` (a key that is not the notification's ASIN) and ``bad_notification_id``
    (a ``notification_id`` that is not the identity of the other fields: deduplication relies
    on it)."""
    notification = KEEPA_NOTIFICATION.decode(value)
    if not key:
        raise ContractError("missing_key", "the key must be the ASIN")
    key_asin = key.decode("utf-8", "replace")
    if not is_valid_asin(key_asin):
        raise ContractError("invalid_asin", f"message key is not an ASIN: {key_asin!r}")
    if key_asin != notification.asin:
        raise ContractError(
            "asin_mismatch", f"message key {key_asin!r} != notification asin {notification.asin!r}"
        )
    if notification.notification_id != notification.identity():
        raise ContractError(
            "bad_notification_id",
            f"notification_id {notification.notification_id} is not the identity of the "
            "notification's fields",
        )
    return notification
