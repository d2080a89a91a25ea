"""Keepa's side of push tracking, emulated for the push simulation (``bench/push_sim.py``).

:class:`SimulatedTrackings` holds an account's trackings the way Keepa would: the sync's
changes (:class:`app.keepa.tracking.plan.SyncPlan`) are applied to it, it answers with
Keepa's tracking objects (parsed by the real :meth:`Tracking.from_keepa`, so the real
:func:`~app.keepa.tracking.plan.diff` reads them), and a refresh of a tracked product in one
market returns the notifications Keepa would send (real
:class:`~app.contracts.keepa_notifications.KeepaNotification` messages, which the real
:func:`~app.domain.notification_merge.merge_notification` takes).

The model, and what in it Keepa does not document (docs/tracking.md, "Simulation"):

* **Refreshes.** Keepa refreshes a tracked product in each market it watches every
  ``updateInterval`` hours, at a fixed offset per (ASIN, market) (:func:`refresh_offset`,
  seeded) that does not move when the tracking is replaced. Keepa only says an update comes
  "usually a bit later" than the interval and that it may update a product for other reasons;
  the model has neither (no lag, no extra updates, none from our own product requests).
* **Firing.** At a refresh, an armed threshold fires when the market's current value of its
  price type is an offer (> 0) strictly below (``isDrop``) or above the threshold, the value
  converted to the tracking's main currency at the same EUR/GBP rate as ours (Keepa uses its
  own rate; the planner's 2 % margin covers a difference). It is level-triggered: a threshold
  armed while the price is already past it fires at the next refresh. Each fired threshold
  sends one notification (cause ``DESIRED_PRICE``) with the market's current prices, and
  stays silent until the tracking is added again (re-armed or replaced by the sync): the
  account default of ``individualNotificationInterval`` is not documented, so the model
  counts on the sync's re-arming only.
* **Cost.** Adding or replacing a tracking costs
  :data:`~app.keepa.tracking.cost.ADD_TOKENS_PER_TRACKING`; while it exists it lowers the
  refill rate by :func:`~app.keepa.tracking.cost.estimated_flow_reduction` (Keepa's own
  figure is that estimate rounded to a whole token per minute, updated every 5 minutes).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.contracts.keepa_notifications import KeepaNotification, NotificationCause
from app.domain.fx import FxRates
from app.domain.keepa_time import KEEPA_EPOCH, from_keepa_minutes, to_keepa_minutes
from app.domain.markets import Market
from app.keepa.tracking.cost import ADD_TOKENS_PER_TRACKING, estimated_flow_reduction
from app.keepa.tracking.creation import API_NOTIFICATION_TYPE, ThresholdValue, TrackingRequest
from app.keepa.tracking.objects import Tracking
from app.keepa.tracking.plan import SyncPlan

__all__ = [
    "SentNotification",
    "SimulatedTrackings",
    "crosses",
    "refresh_offset",
    "refresh_times",
    "to_main_factor",
    "tracking_object",
]

#: Keepa's ``notificationType`` channel index of the API (webhook and queue).
_API_CHANNEL = API_NOTIFICATION_TYPE.index(True)


def refresh_offset(seed: int, asin: str, market: Market, interval: timedelta) -> timedelta:
    """Where in each ``interval`` Keepa refreshes ``asin`` in ``market``: whole minutes in
    ``[0, interval)``, the same for the same arguments."""
    minutes = max(1, interval // timedelta(minutes=1))
    rng = random.Random(f"{seed}:{asin}:{market.value}:refresh")  # noqa: S311 - not crypto
    return timedelta(minutes=rng.randrange(minutes))


def refresh_times(
    offset: timedelta, interval: timedelta, start: datetime, end: datetime
) -> list[datetime]:
    """The refreshes in ``[start, end)``: ``KEEPA_EPOCH + offset + n x interval``."""
    if interval <= timedelta(0):
        raise ValueError(f"interval must be positive, got {interval}")
    first = math.ceil((start - KEEPA_EPOCH - offset) / interval)
    times = []
    t = KEEPA_EPOCH + offset + first * interval
    while t < end:
        times.append(t)
        t += interval
    return times


def to_main_factor(market: Market, main: Market, fx: FxRates) -> Decimal:
    """What one minor unit of ``market``'s currency is in minor units of ``main``'s."""
    return fx.eur_per(market.currency) / fx.eur_per(main.currency)


def crosses(threshold: ThresholdValue, value_minor: int, factor: Decimal) -> bool:
    """``value_minor`` (the market's current value of the threshold's price type, in its own
    currency; -1 no offer, -2 no data) is past ``threshold`` (in the main currency, one minor
    unit of the market being ``factor`` of it): strictly below a drop, above a rise."""
    if value_minor <= 0:
        return False
    value = value_minor * factor
    return value < threshold.value if threshold.is_drop else value > threshold.value


@dataclass(frozen=True, slots=True)
class SentNotification:
    """One entry of a tracking's ``notificationCSV``."""

    market: Market
    price_type: int
    cause: NotificationCause
    at: datetime


def tracking_object(
    request: TrackingRequest, created_at: datetime, sent: Iterable[SentNotification] = ()
) -> dict[str, Any]:
    """Keepa's tracking object (``/tracking`` get and list) for ``request`` added at
    ``created_at`` (``desiredPricesInMainCurrency``: values are returned as sent), with the
    notifications ``sent`` since."""
    minute = to_keepa_minutes(created_at)
    notification_csv: list[int] = []
    for n in sent:
        notification_csv += [
            n.market.keepa_domain_id,
            n.price_type,
            _API_CHANNEL,
            n.cause.keepa_code,
            to_keepa_minutes(n.at),
        ]
    return {
        "asin": request.asin,
        "createDate": minute,
        "isActive": True,
        "ttl": request.ttl_h,
        "expireNotify": request.expire_notify,
        "mainDomainId": request.main_market.keepa_domain_id,
        "updateInterval": request.update_interval_h,
        "metaData": request.meta_data,
        "thresholdValues": [
            {
                "thresholdValueCSV": [minute, t.value],
                "domain": t.market.keepa_domain_id,
                "csvType": int(t.price_type),
                "isDrop": t.is_drop,
            }
            for t in request.thresholds
        ],
        "notifyIf": [n.to_keepa() for n in request.notify_if],
        "notificationType": list(API_NOTIFICATION_TYPE),
        "notificationCSV": notification_csv,
        "individualNotificationInterval": request.rearm_after_min,
    }


@dataclass
class _Held:
    request: TrackingRequest
    created_at: datetime
    #: Indices (in ``request.thresholds``) of the thresholds that may still fire.
    armed: set[int]
    sent: list[SentNotification] = field(default_factory=list)


class SimulatedTrackings:
    """An account's trackings as Keepa holds them (module doc)."""

    def __init__(self, fx: FxRates) -> None:
        self._fx = fx
        self._held: dict[str, _Held] = {}
        #: Tokens the adds cost so far, notifications sent so far.
        self.add_tokens = 0
        self.notifications = 0

    def add(self, request: TrackingRequest, now: datetime) -> None:
        """Keepa's add: a new tracking, or the ASIN's replaced (every threshold armed again;
        its notification history is kept)."""
        held = self._held.get(request.asin)
        sent = held.sent if held is not None else []
        self._held[request.asin] = _Held(request, now, set(range(len(request.thresholds))), sent)
        self.add_tokens += ADD_TOKENS_PER_TRACKING

    def remove(self, asin: str) -> None:
        self._held.pop(asin, None)

    def apply(self, plan: SyncPlan, now: datetime) -> int:
        """What the sync sends (adds, updates and re-arms are all adds; removes are free);
        the tokens it cost."""
        before = self.add_tokens
        for change in plan.send:
            self.add(change.request, now)
        for asin in plan.remove:
            self.remove(asin)
        return self.add_tokens - before

    def requests(self) -> dict[str, TrackingRequest]:
        """The trackings, as last sent, by ASIN."""
        return {asin: held.request for asin, held in self._held.items()}

    def trackings(self) -> dict[str, Tracking]:
        """What Keepa's ``list`` + ``get`` return, parsed as the sync parses them."""
        return {
            asin: Tracking.from_keepa(tracking_object(h.request, h.created_at, h.sent))
            for asin, h in self._held.items()
        }

    def flow_reduction(self) -> float:
        """Tokens per minute the trackings take off the refill rate (the estimate)."""
        return estimated_flow_reduction(h.request for h in self._held.values())

    def refresh(
        self, asin: str, market: Market, at: datetime, current_prices: Sequence[int]
    ) -> list[KeepaNotification]:
        """Keepa refreshed ``asin`` in ``market`` at ``at`` and saw ``current_prices``
        (``stats.current``: indexed by price type, minor units, -1 no offer): the
        notifications of the armed thresholds it fires, which are disarmed."""
        held = self._held.get(asin)
        if held is None:
            return []
        request = held.request
        factor = to_main_factor(market, request.main_market, self._fx)
        created = from_keepa_minutes(to_keepa_minutes(at))
        out = []
        for i in sorted(held.armed):
            threshold = request.thresholds[i]
            if threshold.market is not market:
                continue
            index = int(threshold.price_type)
            value = current_prices[index] if index < len(current_prices) else -2
            if not crosses(threshold, value, factor):
                continue
            held.armed.discard(i)
            cause = NotificationCause.DESIRED_PRICE
            held.sent.append(SentNotification(market, index, cause, created))
            out.append(
                KeepaNotification.create(
                    asin=asin,
                    market=market,
                    tracking_market=request.main_market,
                    price_type=threshold.price_type,
                    cause=cause,
                    created_at=created,
                    current_prices=list(current_prices),
                    source="webhook",
                    received_at=at,
                    meta_data=request.meta_data,
                )
            )
        self.notifications += len(out)
        return out
