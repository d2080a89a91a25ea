"""The receiver's FastAPI application: ``create_app()`` (``arbitrage webhook`` serves it with
uvicorn).

The publisher is started with the app (it connects in the background) and stopped with it.
The app refuses to be built without a usable ``KEEPA_WEBHOOK_SECRET``
(:func:`app.webhook.secret.webhook_secret_problem`). No OpenAPI pages are served: the
endpoint is for Keepa, its contract is in docs/contract.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from app.metrics import WorkerMetrics
from app.settings import Settings, get_settings
from app.webhook.access_log import install_access_log_redaction
from app.webhook.kafka_publisher import KafkaNotificationPublisher
from app.webhook.publisher import NotificationPublisher
from app.webhook.routes import router
from app.webhook.secret import SecretPath

__all__ = ["create_app"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None,
    *,
    publisher: NotificationPublisher | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> FastAPI:
    """A new receiver for ``settings`` (default: the environment's), publishing through
    ``publisher`` (default: Kafka, :class:`KafkaNotificationPublisher`). ``ValueError`` when
    the secret is not usable (the message says why, never what it is)."""
    settings = settings or get_settings()
    secret_path = SecretPath.for_settings(settings)
    used = publisher or KafkaNotificationPublisher.for_settings(settings)
    install_access_log_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await used.start()
        try:
            yield
        finally:
            await used.stop()

    app = FastAPI(
        title="Keepa webhook receiver",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.secret_path = secret_path
    app.state.publisher = used
    app.state.metrics = WorkerMetrics()
    app.state.clock = clock
    app.include_router(router)
    return app
