"""``GET /health``: real checks of Elasticsearch and Kafka."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import Health
from app.api.models import HealthResponse

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Elasticsearch and Kafka reachability",
    responses={503: {"model": HealthResponse, "description": "A dependency is not healthy."}},
)
async def health(checker: Health, response: Response) -> HealthResponse:
    """200 when Elasticsearch's cluster health is green or yellow and a Kafka metadata
    request succeeds (cached for a few seconds); 503 with per-component detail otherwise."""
    result = await checker.check()
    if result.status != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return result
