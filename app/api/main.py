"""The FastAPI application: ``create_app()`` (``arbitrage api`` serves it with uvicorn).

One ``AsyncElasticsearch`` client is created when the app starts (lifespan) and closed when
it stops; every request uses it. ``uvicorn app.api.main:app`` works too (``app`` is built
on first access, so importing this module reads no settings).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from elasticsearch import AsyncElasticsearch
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api.config import ApiSettings
from app.api.deps import log_write_access
from app.api.errors import install_error_handlers
from app.api.health import HealthChecker, describe_kafka_cluster
from app.api.lifetimes import PairLifetimeCache
from app.api.routes import (
    health,
    lifetimes,
    opportunities,
    products,
    profile,
    profit,
    stats,
    watchlist,
)
from app.es.indices import ensure_indices
from app.settings import Settings, get_settings

logger = logging.getLogger(__name__)

__all__ = ["ES_REQUEST_TIMEOUT_S", "create_app"]

#: Time limit of one Elasticsearch request made by an endpoint.
ES_REQUEST_TIMEOUT_S = 10.0

_DESCRIPTION = """
Amazon EU arbitrage opportunities, products, price history, watchlist and system state,
read from Elasticsearch (written by the Faust worker); the seller profile, read from and
written to its Kafka topic; what-if pricing of every route (`POST /profit/quote`).

Money is integer cents (`*_eur_cents`) or integer minor units of the named currency
(`*_minor`); times are UTC ISO-8601. Write endpoints need `Authorization: Bearer <API_TOKEN>`.
"""


def create_app(
    settings: Settings | None = None, api_settings: ApiSettings | None = None
) -> FastAPI:
    """A new app for ``settings`` (default: the environment's)."""
    settings = settings or get_settings()
    api_settings = api_settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log_write_access(settings)
        es = AsyncElasticsearch(settings.elasticsearch_url, request_timeout=ES_REQUEST_TIMEOUT_S)
        app.state.es = es
        app.state.health = HealthChecker(
            es,
            partial(
                describe_kafka_cluster,
                settings.kafka_bootstrap_servers,
                api_settings.health_timeout_s,
            ),
            timeout_s=api_settings.health_timeout_s,
            cache_s=api_settings.health_cache_s,
        )
        try:
            # The indices exist from the start (empty results, not errors, before any data).
            await ensure_indices(es, settings)
        except Exception as exc:  # Elasticsearch down: serve anyway, /health says why
            logger.warning("could not ensure the indices at start-up: %s", exc)
        try:
            yield
        finally:
            await es.close()

    app = FastAPI(
        title="EU Arbitrage Tracker API",
        version="1.0.0",
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.api_settings = api_settings
    app.state.lifetimes = PairLifetimeCache(api_settings.lifetime_cache_s)
    if api_settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api_settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    install_error_handlers(app)
    for module in (opportunities, products, watchlist, profile, profit, lifetimes, stats, health):
        app.include_router(module.router)
    return app


def __getattr__(name: str) -> FastAPI:
    """``app``: built on first access (for ``uvicorn app.api.main:app``)."""
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
