"""A Keepa tracking notification merged into the stored quote of its market (issue 11).

A notification carries the current prices of one ASIN on one market (Keepa's
``currentPrices``, indexed by price type) and nothing else: no fees, dimensions, category,
rank or title. :func:`merge_notification` applies those prices to the quote the detector
holds for that market and returns a new quote whose provenance says so (``source`` =
``notification`` and the notification's id); everything else is kept from the stored quote.

Rules, for each price type a quote reads (:data:`app.domain.keepa_prices.PRICE_TYPES_READ`)
that the notification has an entry for:

* a price (> 0): replaces the stored one (a shipping type's value is taken as Keepa's
  current value, shipping included, as in a product's ``stats.current``);
* ``-1`` (no offer) and ``0`` (not a price, as when a product is parsed): the price type is
  removed;
* ``-2`` (no data), or no entry at all: the stored value is kept.

Buy price, sell price and ``amazon_in_stock`` are then derived from the prices by the rule a
product's quote is parsed with (:func:`app.domain.envelope.quote_prices`). The stored quote's
signals (:mod:`app.domain.signals`) are kept, except their sell-price stability: the new
sell price is set against the stored 30/90-day averages and the spike flag recomputed with
``spike_share`` (:func:`app.domain.signals.with_sell_price`; averages of another price type
than the new sell price's are not used). Demand, competition (Amazon's offer included) and
restrictions stay as the last Keepa product said: a notification does not carry them. Event time
(``observed_at``) is the notification's ``created_at``, ``fetched_at`` its ``received_at``.

What is not merged (:class:`MergeOutcome`): an EXPIRED notification (no prices: nothing to
apply), a notification for a market without a stored quote (the caller asks for a normal
fetch instead), one older than the stored quote (as :func:`app.domain.asin_state.apply_quote`
does not let an older quote replace a newer one), and a duplicate: the stored quote came from
this very notification, or it has the notification's time and the merge would change none of
its prices.

Pure: no I/O, no clock. The notification is anything with the attributes of
:class:`PriceNotification` (the ``keepa.notifications`` message,
:class:`app.contracts.keepa_notifications.KeepaNotification`, is one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from app.domain.envelope import quote_prices, sell_price_type
from app.domain.keepa_prices import NO_DATA, PRICE_TYPES_READ
from app.domain.markets import Market
from app.domain.policy import DEFAULT_SPIKE_SHARE
from app.domain.quote import MarketQuote
from app.domain.signals import with_sell_price
from app.domain.utc import require_utc

__all__ = ["MergeOutcome", "NotificationMerge", "PriceNotification", "merge_notification"]

MergeOutcome = Literal["merged", "expired", "no_quote", "out_of_order", "duplicate"]


class PriceNotification(Protocol):
    """What the merge reads of a notification."""

    @property
    def notification_id(self) -> str: ...
    @property
    def asin(self) -> str: ...
    @property
    def market(self) -> Market: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def current_prices(self) -> Sequence[int] | None: ...


@dataclass(frozen=True, slots=True)
class NotificationMerge:
    """The outcome and, for ``merged``, the new quote of the notification's market."""

    outcome: MergeOutcome
    quote: MarketQuote | None = None


def merge_notification(
    stored: MarketQuote | None,
    notification: PriceNotification,
    *,
    spike_share: Decimal = DEFAULT_SPIKE_SHARE,
) -> NotificationMerge:
    """``notification`` applied to ``stored``, the quote held for its ASIN and market
    (``None``: none is held); see the module doc for the rules and the outcomes.
    ``spike_share``: the detection policy's, for the signals' spike flag."""
    prices = notification.current_prices
    if prices is None:
        return NotificationMerge("expired")
    if stored is None:
        return NotificationMerge("no_quote")
    if (stored.asin, stored.market) != (notification.asin, notification.market):
        raise ValueError(
            f"notification of {notification.asin} on {notification.market} merged into the "
            f"quote of {stored.asin} on {stored.market}"
        )
    created_at = require_utc(notification.created_at, "created_at")
    if created_at < stored.observed_at:
        return NotificationMerge("out_of_order")
    if stored.notification_id == notification.notification_id:
        return NotificationMerge("duplicate")
    merged = _merged_prices(stored.prices, prices)
    if created_at == stored.observed_at and merged == stored.prices:
        return NotificationMerge("duplicate")
    derived = quote_prices(merged)
    signals = stored.signals
    if signals is not None:
        signals = with_sell_price(
            signals, sell_price_type(merged), derived.sell_price, spike_share=spike_share
        )
    quote = replace(
        stored,
        observed_at=created_at,
        fetched_at=require_utc(notification.received_at, "received_at"),
        buy_price=derived.buy_price,
        sell_price=derived.sell_price,
        amazon_in_stock=derived.amazon_in_stock,
        prices=merged,
        source="notification",
        notification_id=notification.notification_id,
        signals=signals,
    )
    return NotificationMerge("merged", quote)


def _merged_prices(stored: dict[str, int], current: Sequence[int]) -> dict[str, int]:
    merged = dict(stored)
    for price_type in PRICE_TYPES_READ:
        if price_type >= len(current):
            continue
        value = current[price_type]
        if value > 0:
            merged[price_type.name] = value
        elif value != NO_DATA:  # -1: no offer now; 0: not a price
            merged.pop(price_type.name, None)
    return merged
