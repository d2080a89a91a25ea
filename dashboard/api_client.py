"""The dashboard's only way to data: a small synchronous client of the REST API.

Responses are validated into the API's own response models (:mod:`app.api.models`), so a
contract drift shows up as a clear :class:`ApiError` instead of a half-drawn page.
Failures are split into what the dashboard tells the user differently:

* :class:`ApiUnavailableError`: the API cannot be reached, timed out, or answered 5xx;
* :class:`ApiError`: the API answered, but not with what was asked (4xx, bad JSON);
* ``None`` from the single-item getters: 404, the ASIN is unknown.

Tests inject an ``httpx.BaseTransport`` (e.g. ``httpx.MockTransport``) or point
``base_url`` at a local fake server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from app.api.models import (
    HealthResponse,
    OpportunityDetail,
    OpportunityPage,
    PriceHistory,
    ProductView,
    ProfileView,
    ProfitQuote,
    StatsResponse,
)
from app.domain.utc import format_utc

__all__ = ["ApiClient", "ApiError", "ApiUnavailableError"]

_M = TypeVar("_M", bound=BaseModel)

QueryParams = Mapping[str, str | Sequence[str]]


class ApiError(RuntimeError):
    """The API answered, but not usefully (client error, invalid body)."""


class ApiUnavailableError(ApiError):
    """The API is not reachable, timed out, or failed on its side (5xx)."""


class ApiClient:
    """Read access to the arbitrage REST API (``GET``, and ``POST /profit/quote``, which
    computes and writes nothing)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "arbitrage-dashboard"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- endpoints -----------------------------------------------------------------------

    def health(self) -> HealthResponse:
        """``GET /health`` (a 503 with a body still says what is down)."""
        return self._get_model("/health", HealthResponse, accept_503=True)

    def stats(self) -> StatsResponse:
        return self._get_model("/stats", StatsResponse)

    def opportunities(self, params: QueryParams) -> OpportunityPage:
        return self._get_model("/opportunities", OpportunityPage, params=params)

    def opportunity(self, asin: str) -> OpportunityDetail | None:
        return self._get_optional(f"/opportunities/{asin}", OpportunityDetail)

    def product(self, asin: str) -> ProductView | None:
        return self._get_optional(f"/products/{asin}", ProductView)

    def history(
        self,
        asin: str,
        *,
        markets: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 2000,
    ) -> PriceHistory | None:
        params: dict[str, str | Sequence[str]] = {"limit": str(limit)}
        if markets:
            params["market"] = ",".join(markets)
        if since is not None:
            params["since"] = format_utc(since)
        return self._get_optional(f"/products/{asin}/history", PriceHistory, params=params)

    def profile(self) -> ProfileView:
        """``GET /profile``: the seller profile in force."""
        return self._get_model("/profile", ProfileView)

    def profit_quote(self, body: Mapping[str, Any]) -> ProfitQuote | None:
        """``POST /profit/quote`` (what-if pricing); None when the ASIN is unknown (404). An
        invalid profile override is an :class:`ApiError` naming the field."""
        response = self._request("/profit/quote", None, json=dict(body))
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        return self._parse(response, ProfitQuote, accept_503=False)

    # --- plumbing ------------------------------------------------------------------------

    def _request(
        self, path: str, params: QueryParams | None, *, json: Any = None
    ) -> httpx.Response:
        try:
            if json is not None:
                return self._client.post(path, json=json)
            return self._client.get(path, params=_flatten(params))
        except httpx.TimeoutException as exc:
            raise ApiUnavailableError(f"the API at {self.base_url} timed out ({path})") from exc
        except httpx.TransportError as exc:
            raise ApiUnavailableError(
                f"the API at {self.base_url} is unreachable: {type(exc).__name__}: {exc}"
            ) from exc

    def _get_optional(
        self, path: str, model: type[_M], *, params: QueryParams | None = None
    ) -> _M | None:
        response = self._request(path, params)
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        return self._parse(response, model, accept_503=False)

    def _get_model(
        self,
        path: str,
        model: type[_M],
        *,
        params: QueryParams | None = None,
        accept_503: bool = False,
    ) -> _M:
        return self._parse(self._request(path, params), model, accept_503=accept_503)

    def _parse(self, response: httpx.Response, model: type[_M], *, accept_503: bool) -> _M:
        path = response.request.url.path
        status = response.status_code
        unavailable_ok = accept_503 and status == httpx.codes.SERVICE_UNAVAILABLE
        if status >= 500 and not unavailable_ok:
            raise ApiUnavailableError(
                f"the API failed on {path}: HTTP {status} {_detail(response)}".rstrip()
            )
        if status >= 400 and not unavailable_ok:
            raise ApiError(f"the API rejected {path}: HTTP {status} {_detail(response)}".rstrip())
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(
                f"unexpected response from {path}: {exc.error_count()} validation error(s), "
                f"first: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
            ) from exc


def _flatten(params: QueryParams | None) -> httpx.QueryParams | None:
    if params is None:
        return None
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in params.items():
        if isinstance(value, str):
            pairs.append((name, value))
        else:
            pairs.extend((name, item) for item in value)
    return httpx.QueryParams(pairs)


def _detail(response: httpx.Response) -> str:
    """The ``detail`` of an error body (FastAPI's shape), else a short text excerpt."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            # FastAPI's validation errors: the first one's message (it names the field)
            return str(detail[0].get("msg", detail[0]))[:300]
        return detail if isinstance(detail, str) else str(detail)[:300]
    return str(body)[:200]
