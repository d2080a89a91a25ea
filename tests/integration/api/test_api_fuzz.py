"""Property-based fuzzing of every operation of the OpenAPI schema (schemathesis + Hypothesis)
against the app in-process, with the real Elasticsearch holding the worker's documents:
valid and invalid inputs alike, never a 5xx (schemathesis' ``not_a_server_error``, among its
other default checks).

Each operation is fuzzed through ``operation.as_strategy()`` in its own test (schemathesis'
lazy ``from_fixture`` loader does not work with pytest 9), with the write token, so the write
endpoints are exercised past authentication too.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from api_dataset import TOKEN
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from app.api.main import create_app
from app.settings import Settings

MAX_EXAMPLES = 25
#: Starlette decodes header bytes as Latin-1: this string is sent as the token's UTF-8 bytes.
AUTH = {"Authorization": f"Bearer {TOKEN}".encode().decode("latin-1")}


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Every (method, path) of the schema, with valid inputs and, when it takes any input,
    with invalid ones (building the schema needs no Elasticsearch)."""
    cases = []
    for path, methods in create_app(Settings()).openapi()["paths"].items():
        for method, operation in methods.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return sorted(cases)


CASES = _cases()


@pytest.fixture(scope="session")
def api_schema(api_settings: Settings) -> OpenApiSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(api_settings))


@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {mode}" for m, p, mode in CASES]
)
def test_no_server_errors(
    api_schema: OpenApiSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        # every built-in check (no 5xx, documented status codes, responses matching their
        # schema, invalid input rejected) except accepting every schema-valid request: the
        # page * page_size <= 10000 rule spans two parameters and OpenAPI cannot express it
        case.call_and_validate(headers=AUTH, excluded_checks=[positive_data_acceptance])

    fuzz()
