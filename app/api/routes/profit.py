"""``POST /profit/quote``: what-if pricing of every route, with the seller's own values.

For an ASIN's stored quotes (the latest ``products`` document per market, written by the
sink) or for explicit buy and sell offers, every route is priced by the worker's pricing
model (:func:`app.domain.fees.price_route`) with the seller profile in force, changed by the
request's optional override, and the EUR/GBP rate in force. Both are read from their
compacted topics (``seller.profile`` exactly as ``GET /profile`` reads it, ``fx.rates`` as the
scheduler does), so the answer needs no worker. Nothing is written: like the other reads it
needs no token, and its body is bounded (:data:`app.api.params.MAX_QUOTE_BODY_BYTES`, at most
one offer per market, :data:`app.api.params.MAX_PROFILE_OVERRIDES` override values).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Request, status

from app.api.deps import AppSettings, EsClient, get_settings
from app.api.errors import invalid_profile, kafka_unavailable
from app.api.limits import limited_body_route
from app.api.models import ErrorResponse, ProfitQuote
from app.api.params import MAX_QUOTE_BODY_BYTES, ProfitQuoteRequest
from app.api.queries import product_search
from app.api.whatif import flatten_overrides, offer_quotes, quote_routes, quoted_route
from app.contracts.seller_profile import ProfileInForce, profile_version
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.profile import ProfileError, profile_to_mapping, with_overrides
from app.domain.quote import MarketQuote
from app.es.documents import quote_from_product
from app.es.indices import PRODUCTS
from app.ingest.fx_topic import read_rate_in_force_async
from app.ingest.profile_topic import read_profile_in_force_async
from app.policy_config import detection_policy
from app.settings import Settings

__all__ = ["InForce", "TopicsInForce", "get_in_force", "router"]

router = APIRouter(
    prefix="/profit", tags=["profit"], route_class=limited_body_route(MAX_QUOTE_BODY_BYTES)
)

#: Topic reads: a little less than the dashboard's time limit per request.
_READ_TIMEOUT_S = 4.0


@dataclass(frozen=True, slots=True)
class InForce:
    """The seller profile and the EUR/GBP rate in force."""

    profile: ProfileInForce
    fx: FxRates


class TopicsInForce:
    """Reads :class:`InForce` from the compacted topics ``seller.profile`` and ``fx.rates``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def read(self) -> InForce:
        profile, fx = await asyncio.gather(
            read_profile_in_force_async(self.settings, timeout_s=_READ_TIMEOUT_S),
            read_rate_in_force_async(self.settings, timeout_s=_READ_TIMEOUT_S),
        )
        return InForce(profile, fx)


def get_in_force(request: Request) -> TopicsInForce:
    """The reader of the values in force (read only once the request is valid)."""
    return TopicsInForce(get_settings(request))


InForceReader = Annotated[TopicsInForce, Depends(get_in_force)]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not JSON."},
    404: {"model": ErrorResponse, "description": "The ASIN was never observed."},
    413: {"model": ErrorResponse, "description": "The body is larger than 16 KiB."},
    422: {
        "description": "Invalid body, or a profile override that fails validation (`loc` is "
        '`["body", "profile", *the field\'s path]`, `type` `invalid_profile`).'
    },
    503: {
        "model": ErrorResponse,
        "description": "Elasticsearch or Kafka (the profile and rate in force) unavailable.",
    },
}


async def _stored_quotes(es: Any, settings: Settings, asin: str) -> dict[Market, MarketQuote]:
    response = await es.search(index=settings.index(PRODUCTS), **product_search(asin))
    quotes = (quote_from_product(hit["_source"]) for hit in response["hits"]["hits"])
    return {q.market: q for q in quotes if q is not None}


@router.post(
    "/quote",
    response_model=ProfitQuote,
    summary="What-if: every route's full breakdown for stored quotes or explicit offers",
    responses=_RESPONSES,
)
async def profit_quote(
    body: ProfitQuoteRequest, es: EsClient, settings: AppSettings, in_force: InForceReader
) -> ProfitQuote:
    """Prices every route between the markets of an ASIN's stored quotes (`asin`), or from
    each `buy` offer to each `sell` offer of another market, with the seller profile in force
    changed by `profile` (a partial profile or dotted keys, as `arbitrage profile set`) and
    the EUR/GBP rate in force. Every route has its full breakdown, whether or not it is an
    opportunity (`failed_thresholds` says why not); a route without a price says why in
    `unpriced`. Fees are those in force on `as_of`'s date (default: the newer quote's date,
    as in the worker; for explicit offers, today). Nothing is written; no token needed."""
    try:
        overrides = flatten_overrides(body.profile or {})
    except ProfileError as exc:
        raise invalid_profile(exc) from None
    now = datetime.now(UTC)
    title: str | None = body.title
    if body.asin is not None:
        stored = await _stored_quotes(es, settings, body.asin)
        if not stored:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"ASIN {body.asin} was never observed")
        buy_quotes = sell_quotes = stored
        stale_after: timedelta | None = detection_policy(settings).stale_after
    else:
        assert body.buy is not None  # the model's rule: both sides or an ASIN
        assert body.sell is not None
        buy_quotes, sell_quotes = offer_quotes(body.buy, body.sell, title, body.as_of or now)
        stale_after = None
    try:
        values = await in_force.read()
    except (KafkaError, TimeoutError, OSError) as exc:
        raise kafka_unavailable(exc) from exc
    try:
        profile = with_overrides(values.profile.profile, overrides)
    except ProfileError as exc:
        raise invalid_profile(exc) from None
    version = profile_version(profile)
    priced = quote_routes(
        buy_quotes,
        sell_quotes,
        values.fx,
        profile,
        default_fee_schedule(),
        on=None if body.as_of is None else body.as_of.date(),
        stale_after=stale_after,
    )
    if body.asin is not None:
        title = next((b.title for b in priced.routes if b.title), None) or next(
            (q.title for q in buy_quotes.values() if q.title), None
        )
    return ProfitQuote(
        asin=body.asin,
        title=title,
        source="stored_quotes" if body.asin is not None else "offers",
        profile=profile_to_mapping(profile),
        profile_version=version,
        profile_in_force_version=values.profile.version,
        overrides=overrides,
        fx_eur_per_gbp=float(values.fx.eur_per_gbp),
        fx_as_of=values.fx.as_of,
        fees_on=None if body.as_of is None else body.as_of.date(),
        routes=[quoted_route(b, version) for b in priced.routes],
        unpriced=priced.unpriced,
        generated_at=now,
    )
