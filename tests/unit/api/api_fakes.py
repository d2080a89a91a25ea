"""Test doubles for the API unit tests: an app whose Elasticsearch client is a fake."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api.config import ApiSettings
from app.api.deps import get_es
from app.api.main import create_app
from app.settings import Settings

#: A write token the API accepts (32+ characters).
TOKEN = "s3cret-token-for-unit-tests-0123456789"


class UnusedEs:
    """An Elasticsearch client that must not be used (validation-only requests)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Elasticsearch was called ({name}) for a request that must fail")


def app_with(es: Any, *, token: str | None = TOKEN, **api: Any) -> FastAPI:
    """The real app, its Elasticsearch dependency replaced by ``es`` (no lifespan runs)."""
    settings = Settings(api_token=token, elasticsearch_index_prefix="unit-")
    app = create_app(settings, ApiSettings(**api))
    app.dependency_overrides[get_es] = lambda: es
    return app


def client_with(es: Any, **kwargs: Any) -> TestClient:
    return TestClient(app_with(es, **kwargs))
