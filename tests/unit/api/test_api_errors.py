"""Elasticsearch failures become 503 (unavailable) or 502 (bad gateway), never a bare 500."""

from __future__ import annotations

from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, ConnectionError, ConnectionTimeout, NotFoundError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api.errors import install_error_handlers


def meta(status: int) -> ApiResponseMeta:
    return ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.01,
        node=NodeConfig("http", "127.0.0.1", 9200),
    )


INDEX_MISSING = NotFoundError(
    "index_not_found_exception",
    meta(404),
    {"error": {"type": "index_not_found_exception", "index": "x-products"}, "status": 404},
)


def client_raising(exc: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> Any:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("exc", "status", "text"),
    [
        (INDEX_MISSING, 503, "x-products does not exist yet"),
        (ConnectionError("refused"), 503, "unreachable"),
        (ConnectionTimeout("timed out"), 503, "unreachable"),
        (ApiError("es_rejected_execution_exception", meta(429), {}), 503, "overloaded"),
        (ApiError("search_phase_execution_exception", meta(400), {}), 502, "400"),
        (ApiError("internal", meta(500), {}), 502, "500"),
    ],
)
def test_elasticsearch_errors(exc: Exception, status: int, text: str) -> None:
    response = client_raising(exc).get("/boom")
    assert response.status_code == status
    assert text in response.json()["detail"]
