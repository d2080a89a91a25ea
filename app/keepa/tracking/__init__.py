"""Keepa trackings: what we ask Keepa to watch, what it holds, what it costs, the client of
``/tracking`` and the reading of the notifications Keepa sends (issue 11).

One kind of object per module: :mod:`~app.keepa.tracking.creation` (the tracking creation
object we send), :mod:`~app.keepa.tracking.objects` (the tracking object Keepa returns),
:mod:`~app.keepa.tracking.notifications` (a notification object -> the
``keepa.notifications`` message of :mod:`app.contracts.keepa_notifications`),
:mod:`~app.keepa.tracking.cost` (tokens and refill rate), :mod:`~app.keepa.tracking.client`
(the requests). Like the rest of :mod:`app.keepa`, nothing here imports Faust.
"""

from app.keepa.tracking.client import (
    AddTrackingsResult,
    FailedTracking,
    KeepaTrackingClient,
    NotificationQueue,
    RejectedNotification,
    RemovedTracking,
    TrackedAsins,
    TrackingCall,
    TrackingLookup,
)
from app.keepa.tracking.cost import estimated_flow_reduction, is_marketplace_tracking
from app.keepa.tracking.creation import NotifyIf, NotifyIfType, ThresholdValue, TrackingRequest
from app.keepa.tracking.notifications import convert_notification, parse_notification
from app.keepa.tracking.objects import Tracking

__all__ = [
    "AddTrackingsResult",
    "FailedTracking",
    "KeepaTrackingClient",
    "NotificationQueue",
    "NotifyIf",
    "NotifyIfType",
    "RejectedNotification",
    "RemovedTracking",
    "ThresholdValue",
    "TrackedAsins",
    "Tracking",
    "TrackingCall",
    "TrackingLookup",
    "TrackingRequest",
    "convert_notification",
    "estimated_flow_reduction",
    "is_marketplace_tracking",
    "parse_notification",
]
