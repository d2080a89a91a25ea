"""The receiver's endpoints: ``POST /keepa/{secret}`` (Keepa's notifications), ``GET /health``
(docker-compose's healthcheck) and ``GET /stats`` (counters).

``POST /keepa/{secret}``, in this order:

1. a wrong secret: 404, exactly as an unknown path (the body is not read, nothing is logged
   but the count ``not_found``);
2. the body, read with a limit (:data:`~app.webhook.body.MAX_BODY_BYTES`): 413 beyond it;
3. not a notification (:func:`~app.keepa.tracking.notifications.parse_notification`): the body
   is dead-lettered to ``keepa.webhook.dlq`` with the reason, then 400 with the reason;
4. a notification: published to ``keepa.notifications`` (key = ASIN), then 200.

Whenever the broker does not acknowledge (3 or 4) in time, 503: Keepa retries once after
about 15 s, and the notification queue keeps the notification 24 hours. Nothing is answered
200 (or 400) before the broker has the record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse

from app.contracts.base import ContractError
from app.contracts.dead_letters import NotificationDeadLetter
from app.keepa.tracking.notifications import parse_notification
from app.metrics import WorkerMetrics
from app.webhook.body import BodyTooLargeError, read_limited
from app.webhook.models import Accepted, Health, Refused
from app.webhook.publisher import NotificationPublisher, PublishUnavailableError
from app.webhook.secret import SecretPath

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter()

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Refused, "description": "Not a Keepa notification (dead-lettered first)."},
    404: {"model": Refused, "description": "Wrong secret (the same answer as any unknown path)."},
    413: {"model": Refused, "description": "Body larger than the limit."},
    503: {"model": Refused, "description": "Kafka did not acknowledge in time: retry later."},
}


def _publisher(request: Request) -> NotificationPublisher:
    return cast(NotificationPublisher, request.app.state.publisher)


def _metrics(request: Request) -> WorkerMetrics:
    return cast(WorkerMetrics, request.app.state.metrics)


def _refused(code: int, detail: str, reason: str | None = None) -> JSONResponse:
    return JSONResponse(Refused(detail=detail, reason=reason).model_dump(), status_code=code)


def _unavailable(metrics: WorkerMetrics, exc: PublishUnavailableError, what: str) -> JSONResponse:
    metrics.incr("unavailable")
    metrics.error(f"{what} not published: {exc}")
    log.warning("%s not published, answered 503: %s", what, exc)
    return _refused(status.HTTP_503_SERVICE_UNAVAILABLE, f"{exc}; retry later")


@router.post(
    "/keepa/{secret}",
    response_model=Accepted,
    responses=_RESPONSES,
    summary="One Keepa tracking notification",
)
async def keepa_notification(secret: str, request: Request) -> Response:
    """Publish the notification in the body (Keepa's notification object, one per POST) to
    ``keepa.notifications``; 200 once the broker has acknowledged it."""
    metrics = _metrics(request)
    if not cast(SecretPath, request.app.state.secret_path).matches(secret):
        metrics.incr("not_found")
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    try:
        body = await read_limited(request)
    except BodyTooLargeError as exc:
        metrics.incr("too_large")
        return _refused(status.HTTP_413_CONTENT_TOO_LARGE, str(exc))
    metrics.incr("received")
    received_at = cast(Callable[[], datetime], request.app.state.clock)()
    publisher = _publisher(request)
    try:
        notification = parse_notification(body, source="webhook", received_at=received_at)
    except ContractError as exc:
        letter = NotificationDeadLetter(
            reason=exc.code, error=exc.message, source="webhook", received_at=received_at
        )
        try:
            await publisher.dead_letter(body, letter)
        except PublishUnavailableError as unavailable:
            return _unavailable(metrics, unavailable, f"a rejected body ({exc.code})")
        metrics.incr("rejected")
        metrics.dlq_reasons[exc.code] += 1
        log.warning("not a Keepa notification (%s), dead-lettered: %s", exc.code, exc.message)
        return _refused(status.HTTP_400_BAD_REQUEST, exc.message, exc.code)
    try:
        await publisher.publish(notification)
    except PublishUnavailableError as exc:
        return _unavailable(metrics, exc, f"the notification of {notification.asin}")
    metrics.incr("published")
    log.debug(
        "published notification %s of %s (%s)",
        notification.notification_id,
        notification.asin,
        notification.market.value,
    )
    accepted = Accepted(
        notification_id=notification.notification_id,
        asin=notification.asin,
        market=notification.market.value,
    )
    return JSONResponse(accepted.model_dump())


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "Notifications cannot be published."}},
    summary="Connected to Kafka, and the topics exist",
)
async def health(request: Request, response: Response) -> Health:
    """200 when the producer is connected and ``keepa.notifications`` and its DLQ exist;
    503 with the reason otherwise."""
    state = await _publisher(request).health()
    if not state.ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if state.ok else "unavailable", detail=state.detail)


@router.get("/stats", summary="Counters of this receiver")
async def stats(request: Request) -> dict[str, Any]:
    """``counters``: ``received`` (right secret, body within the limit), ``published``,
    ``rejected`` (400, by reason in ``dlq_reasons``), ``unavailable`` (503), ``not_found``
    (wrong secret), ``too_large`` (413); ``last_error``, ``uptime_s``."""
    return _metrics(request).snapshot()
