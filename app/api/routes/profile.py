"""``GET /profile`` (open) and ``PUT /profile`` (token): the seller profile in force.

Both go to Kafka, not Elasticsearch: the profile lives on the compacted topic
``seller.profile`` and the API reads it to its end with the worker's own fold
(:mod:`app.ingest.profile_topic`). So the answer needs no worker and no copy, and a ``GET``
after an acknowledged ``PUT`` shows it. ``PUT`` validates with
:class:`app.domain.profile.SellerProfile` (422 naming the field on error, nothing published)
and returns after the broker acknowledged the message (``acks=all``); the worker applies it
when it consumes it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, status

from app.api.deps import AppSettings, WriteAuth
from app.api.errors import invalid_profile, kafka_unavailable
from app.api.models import ErrorResponse, ProfileView
from app.api.params import ProfileUpdate
from app.contracts.seller_profile import ProfileInForce
from app.domain.profile import ProfileError, profile_from_mapping, profile_to_mapping
from app.ingest.profile_topic import (
    ProfileTopicMissingError,
    publish_profile_async,
    read_profile_in_force_async,
)

router = APIRouter(prefix="/profile", tags=["profile"])
log = logging.getLogger(__name__)

_KAFKA_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "Kafka unreachable, or no topic yet (PUT)."},
}


def _view(in_force: ProfileInForce) -> ProfileView:
    return ProfileView(
        profile=profile_to_mapping(in_force.profile),
        version=in_force.version,
        published=in_force.updated_at is not None,
        updated_at=in_force.updated_at,
        updated_by=in_force.updated_by,
    )


@router.get(
    "", response_model=ProfileView, summary="The seller profile in force", responses=_KAFKA_DOWN
)
async def get_profile(settings: AppSettings) -> ProfileView:
    """The last usable profile published on `seller.profile`, or the default before any.
    Open to everyone (no token needed)."""
    try:
        in_force = await read_profile_in_force_async(settings)
    except (KafkaError, TimeoutError, OSError) as exc:
        raise kafka_unavailable(exc) from exc
    return _view(in_force)


@router.put(
    "",
    response_model=ProfileView,
    summary="Replace the seller profile",
    dependencies=[WriteAuth],
    responses={
        400: {"model": ErrorResponse, "description": "The body cannot be decoded."},
        401: {"model": ErrorResponse, "description": "Missing or wrong bearer token."},
        503: {
            "model": ErrorResponse,
            "description": "Writes disabled (no usable API_TOKEN), Kafka unavailable, or the "
            "topic does not exist yet (start the worker).",
        },
    },
)
async def put_profile(body: ProfileUpdate, settings: AppSettings) -> ProfileView:
    """Validate, then publish to `seller.profile` and wait for the broker (`acks=all`).

    Fields left out take the default profile's value. An invalid profile is refused with a
    422 whose `loc` is the field's path (e.g. `["body", "profile", "thresholds", "min_roi"]`);
    nothing is published and the profile in force stays. A body that cannot be decoded at
    all (not UTF-8 JSON) gets FastAPI's 400, as on `POST /watchlist`."""
    try:
        profile = profile_from_mapping(body.profile)
    except ProfileError as exc:
        raise invalid_profile(exc) from None
    try:
        published = await publish_profile_async(
            settings, profile, updated_by=body.updated_by, now=datetime.now(UTC)
        )
    except ProfileTopicMissingError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    except (KafkaError, TimeoutError, OSError) as exc:
        raise kafka_unavailable(exc) from exc
    return _view(published.in_force)
