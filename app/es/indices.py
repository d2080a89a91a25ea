"""The Elasticsearch index contract: logical index names, mappings, settings and creation.

Four logical indices; the real name is ``settings.index(logical)`` (prefix for isolation):

* ``products``: the latest state of one ASIN on one marketplace, id ``ASIN:MARKET``;
* ``price-history``: one document per observation, id ``ASIN:MARKET:<epoch seconds>``;
* ``opportunities``: the current state of one route of one ASIN, id ``ASIN:BUY:SELL``;
* ``watchlist``: the ASINs to track, id ``ASIN``.

Mappings are explicit and ``"dynamic": "strict"`` (an unknown field is a rejected document,
not a silently added field). The only dynamic part is the ``prices`` object (Keepa price
type name -> minor units), whose new keys are mapped to ``long`` by a dynamic template.

Only features of a bare Elasticsearch node are used (no Painless, no mapper-extras, no
ingest pipelines, no data streams, no analysis-common): ``keyword``, ``text`` with the
built-in ``standard`` analyzer, ``long``/``integer``/``double``/``boolean``/``date``.
Prices and fees are ints of minor units / cents (``long``), never floats.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Protocol

from elasticsearch import AsyncElasticsearch, BadRequestError

from app.domain.keepa_prices import PRICE_TYPES_READ

__all__ = [
    "CONTRACT_VERSION",
    "LOGICAL_INDICES",
    "OPPORTUNITIES",
    "OPPORTUNITY_EPISODES",
    "PRICE_HISTORY",
    "PRODUCTS",
    "WATCHLIST",
    "IndexContractError",
    "IndexNamer",
    "ensure_index",
    "ensure_indices",
    "index_names",
    "index_settings",
    "mapping_for",
    "refresh_interval_for",
]

logger = logging.getLogger(__name__)

#: Bumped whenever a mapping changes; stored in each index's ``_meta``. 2: opportunities carry
#: the fee breakdown (lines, estimates, failed thresholds, category, profile version). 3: the
#: provenance of a quote merged from a Keepa notification (products and price history:
#: ``source``, ``notification_id``; opportunities: ``quote_sources``), fields added. 4: the
#: sell market's quality signals of an opportunity (``sell_signals``,
#: ``expected_monthly_units``, ``expected_monthly_profit_eur_cents``), fields added. 5: the
#: lifetime history (issue 12): the ``opportunity-episodes`` index (one document per closed
#: opening of a route) and ``open_for_seconds`` on a closed opportunity, fields added.
CONTRACT_VERSION: Final = 5

PRODUCTS: Final = "products"
PRICE_HISTORY: Final = "price-history"
OPPORTUNITIES: Final = "opportunities"
WATCHLIST: Final = "watchlist"
#: One document per closed opening ("episode") of a route of an ASIN (docs/signals.md,
#: "Lifetime history"); written by the sink with the ``closed`` event's opportunity document.
OPPORTUNITY_EPISODES: Final = "opportunity-episodes"

#: Every logical index, in creation order.
LOGICAL_INDICES: Final[tuple[str, ...]] = (
    PRODUCTS,
    PRICE_HISTORY,
    OPPORTUNITIES,
    WATCHLIST,
    OPPORTUNITY_EPISODES,
)

#: How soon a write becomes searchable (``index.refresh_interval``), per logical index.
#: ``opportunities`` is what a seller waits for: a route that opens should be readable through
#: the API well within a second of the price change reaching us (issue 11: webhook POST to
#: readable, p99 < 1 s). It holds one small document per route and takes few writes, so a
#: refresh every 100 ms costs little (docs/performance.md, "Webhook to API"). The high-volume
#: indices keep Elasticsearch's default of 1 s, where a refresh per second amortises the
#: segment work of thousands of documents.
DEFAULT_REFRESH_INTERVAL: Final = "1s"
REFRESH_INTERVALS: Final[Mapping[str, str]] = {OPPORTUNITIES: "100ms"}


def refresh_interval_for(logical: str) -> str:
    """The ``refresh_interval`` of a logical index (:data:`REFRESH_INTERVALS`)."""
    return REFRESH_INTERVALS.get(logical, DEFAULT_REFRESH_INTERVAL)


class IndexNamer(Protocol):
    """Anything that maps a logical index name to the real one (``Settings`` does)."""

    def index(self, name: str) -> str: ...


class IndexContractError(RuntimeError):
    """An existing index cannot take the current mapping (a conflicting, non-additive change)."""


# --- field types -------------------------------------------------------------------------

_KEYWORD: Final = {"type": "keyword"}
_LONG: Final = {"type": "long"}
_INTEGER: Final = {"type": "integer"}
_DOUBLE: Final = {"type": "double"}
_BOOLEAN: Final = {"type": "boolean"}
_DATE: Final = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
#: Stored in ``_source`` only: not searchable, no doc values (URLs are displayed, not queried).
_STORED_ONLY: Final = {"type": "keyword", "index": False, "doc_values": False}
#: Full text with the built-in ``standard`` analyzer, plus an exact ``raw`` keyword.
_TITLE: Final = {
    "type": "text",
    "analyzer": "standard",
    "fields": {"raw": {"type": "keyword", "ignore_above": 1024}},
}
#: A free note: full text only.
_NOTE: Final = {"type": "text", "analyzer": "standard"}

#: ``prices``: Keepa price type name -> minor units, with the types the parser reads
#: (:data:`app.domain.keepa_prices.PRICE_TYPES_READ`) mapped up front; other names are mapped
#: to ``long`` by :data:`_PRICES_TEMPLATE` (the object is dynamic, the rest is strict).
_PRICES: Final = {
    "type": "object",
    "dynamic": True,
    "properties": {price_type.name: _LONG for price_type in PRICE_TYPES_READ},
}
_PRICES_TEMPLATE: Final = {
    "prices_as_long": {"path_match": "prices.*", "mapping": {"type": "long"}},
}

#: An opportunity's ``breakdown`` (:class:`app.contracts.opportunities.Breakdown`): one object
#: per line in ``lines`` (an array of objects: each line is read whole, never queried across).
_BREAKDOWN: Final = {
    "type": "object",
    "dynamic": "strict",
    "properties": {
        "fees_on": {"type": "date", "format": "strict_date"},
        "net_sell_eur_cents": _LONG,
        "net_buy_eur_cents": _LONG,
        "sell_vat_rate": _DOUBLE,
        "buy_vat_rate": _DOUBLE,
        "total_costs_eur_cents": _LONG,
        "investment_eur_cents": _LONG,
        "lines": {
            "type": "object",
            "dynamic": "strict",
            "properties": {
                "kind": _KEYWORD,
                "amount_minor": _LONG,
                "currency": _KEYWORD,
                "eur_cents": _LONG,
                "is_cost": _BOOLEAN,
                "note": _STORED_ONLY,
            },
        },
    },
}


_QUOTE_PROVENANCE: Final = {
    "type": "object",
    "dynamic": "strict",
    "properties": {"source": _KEYWORD, "notification_id": _KEYWORD},
}


def _object(properties: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {"type": "object", "dynamic": "strict", "properties": dict(properties)}


#: An opportunity's ``sell_signals`` (:class:`app.contracts.signals.MarketSignalsMessage`):
#: prices in the sell market's minor units, ``null`` = unknown (docs/signals.md).
_SIGNALS: Final = _object(
    {
        "market": _KEYWORD,
        "stability": _object(
            {
                "price_type": _INTEGER,
                "current": _LONG,
                "avg30": _LONG,
                "avg90": _LONG,
                "low_90": _LONG,
                "high_90": _LONG,
                "spike": _BOOLEAN,
            }
        ),
        "demand": _object(
            {
                "sales_rank": _LONG,
                "rank_drops_30": _LONG,
                "rank_drops_90": _LONG,
                "monthly_sold": _LONG,
                "estimated_monthly_sales": _LONG,
                "estimate_method": _KEYWORD,
            }
        ),
        "competition": _object(
            {"new_offer_count": _LONG, "amazon_sells": _BOOLEAN, "amazon_buy_box_share": _DOUBLE}
        ),
        "restrictions": _object(
            {
                "hazardous_material": _BOOLEAN,
                "hazardous_aspects": _KEYWORD,
                "adult_product": _BOOLEAN,
                "heat_sensitive": _BOOLEAN,
            }
        ),
    }
)


def _strict(properties: Mapping[str, Mapping[str, Any]], *, prices: bool = False) -> dict[str, Any]:
    mapping: dict[str, Any] = {
        "_meta": {"contract_version": CONTRACT_VERSION},
        "dynamic": "strict",
        "dynamic_templates": [_PRICES_TEMPLATE] if prices else [],
        "properties": dict(properties),
    }
    return mapping


#: One observation of one ASIN on one market: a ``price-history`` document, and the part of
#: the ``products`` document (the latest observation) that both share.
_OBSERVATION_FIELDS: Final[Mapping[str, Mapping[str, Any]]] = {
    "asin": _KEYWORD,
    "market": _KEYWORD,
    "currency": _KEYWORD,
    "observed_at": _DATE,
    "fetched_at": _DATE,
    "buy_price_minor": _LONG,
    "sell_price_minor": _LONG,
    "buy_price_eur_cents": _LONG,
    "sell_price_eur_cents": _LONG,
    "fx_eur_per_gbp": _DOUBLE,
    "prices": _PRICES,
    "sales_rank": _LONG,
    # Only in the document of a quote merged from a Keepa notification (absent: a product).
    "source": _KEYWORD,
    "notification_id": _KEYWORD,
}

_PRODUCTS_MAPPING: Final = _strict(
    {
        **_OBSERVATION_FIELDS,
        "title": _TITLE,
        "referral_fee_rate": _DOUBLE,
        "fba_fee_minor": _LONG,
        "package_weight_g": _LONG,
        "package_length_mm": _LONG,
        "package_width_mm": _LONG,
        "package_height_mm": _LONG,
        "root_category": _LONG,
        "image_url": _STORED_ONLY,
        "product_url": _STORED_ONLY,
        "amazon_in_stock": _BOOLEAN,
        "indexed_at": _DATE,
    },
    prices=True,
)

_PRICE_HISTORY_MAPPING: Final = _strict(_OBSERVATION_FIELDS, prices=True)

_OPPORTUNITIES_MAPPING: Final = _strict(
    {
        "event_id": _KEYWORD,
        "state": _KEYWORD,
        "last_event": _KEYWORD,
        "reason": _KEYWORD,
        "asin": _KEYWORD,
        "title": _TITLE,
        "route": _KEYWORD,
        "buy_market": _KEYWORD,
        "sell_market": _KEYWORD,
        "buy_url": _STORED_ONLY,
        "sell_url": _STORED_ONLY,
        "buy_currency": _KEYWORD,
        "sell_currency": _KEYWORD,
        "buy_price_minor": _LONG,
        "sell_price_minor": _LONG,
        "buy_price_eur_cents": _LONG,
        "sell_price_eur_cents": _LONG,
        "breakdown": _BREAKDOWN,
        "profit_eur_cents": _LONG,
        "roi": _DOUBLE,
        "margin": _DOUBLE,
        "category": _KEYWORD,
        "estimates": _KEYWORD,
        "failed_thresholds": _KEYWORD,
        "profile_version": _KEYWORD,
        "fx_eur_per_gbp": _DOUBLE,
        "buy_observed_at": _DATE,
        "sell_observed_at": _DATE,
        "event_time": _DATE,
        "first_seen": _DATE,
        "last_seen": _DATE,
        "opened_at": _DATE,
        "closed_at": _DATE,
        "sales_rank": _LONG,
        "root_category": _LONG,
        "image_url": _STORED_ONLY,
        "amazon_sells_in_target": _BOOLEAN,
        # Only when a quote of the route came from a Keepa notification.
        "quote_sources": {
            "type": "object",
            "dynamic": "strict",
            "properties": {side: _QUOTE_PROVENANCE for side in ("buy", "sell")},
        },
        # Version 3 events (null: unknown, or written from an older event).
        "sell_signals": _SIGNALS,
        "expected_monthly_units": _DOUBLE,
        "expected_monthly_profit_eur_cents": _LONG,
        # Contract version 5: closed_at - opened_at of a closed route (null while open).
        "open_for_seconds": _LONG,
    }
)

#: One closed opening of one route of one ASIN (:func:`app.es.documents.episode_action`):
#: id ``ASIN:BUY:SELL:<opened_at epoch millis>``.
_EPISODES_MAPPING: Final = _strict(
    {
        "opportunity_id": _KEYWORD,
        "asin": _KEYWORD,
        "route": _KEYWORD,
        "buy_market": _KEYWORD,
        "sell_market": _KEYWORD,
        "category": _KEYWORD,
        "root_category": _LONG,
        "opened_at": _DATE,
        "closed_at": _DATE,
        "lifetime_seconds": _LONG,
        "reason": _KEYWORD,
        "profit_eur_cents": _LONG,
        "event_id": _KEYWORD,
    }
)

_WATCHLIST_MAPPING: Final = _strict(
    {
        "asin": _KEYWORD,
        "markets": _KEYWORD,  # an array of market codes
        "priority": _INTEGER,
        "added_at": _DATE,
        "updated_at": _DATE,
        "source": _KEYWORD,
        "note": _NOTE,
    }
)

_MAPPINGS: Final[Mapping[str, Mapping[str, Any]]] = {
    PRODUCTS: _PRODUCTS_MAPPING,
    PRICE_HISTORY: _PRICE_HISTORY_MAPPING,
    OPPORTUNITIES: _OPPORTUNITIES_MAPPING,
    WATCHLIST: _WATCHLIST_MAPPING,
    OPPORTUNITY_EPISODES: _EPISODES_MAPPING,
}


def mapping_for(logical: str) -> dict[str, Any]:
    """A (deep) copy of the mapping of a logical index; ``KeyError`` for an unknown name."""
    if logical not in _MAPPINGS:
        raise KeyError(f"unknown logical index {logical!r}; expected one of {LOGICAL_INDICES}")
    copied: dict[str, Any] = _deep_copy(_MAPPINGS[logical])
    return copied


def index_settings(
    *, shards: int = 1, replicas: int = 0, refresh_interval: str = DEFAULT_REFRESH_INTERVAL
) -> dict[str, Any]:
    """Index settings used at creation (shards cannot change afterwards)."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    if replicas < 0:
        raise ValueError(f"replicas must be >= 0, got {replicas}")
    return {
        "index": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            "refresh_interval": refresh_interval,
        }
    }


def index_names(namer: IndexNamer) -> dict[str, str]:
    """Logical name -> real name for every index."""
    return {logical: namer.index(logical) for logical in LOGICAL_INDICES}


async def ensure_index(
    client: AsyncElasticsearch,
    logical: str,
    name: str,
    creation_settings: Mapping[str, Any] | None = None,
) -> bool:
    """Create the index ``name`` with the mapping of ``logical`` (and ``creation_settings``,
    default :func:`index_settings`) when it does not exist; True when this call created it.

    Safe when several processes start at once: an index created by someone else between our
    existence check and our create (``resource_already_exists_exception``) counts as existing.
    """
    if await client.indices.exists(index=name):
        return False
    body_settings = index_settings() if creation_settings is None else dict(creation_settings)
    try:
        await client.indices.create(
            index=name, mappings=mapping_for(logical), settings=body_settings
        )
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
        logger.info("index %s was created concurrently", name)
        return False
    logger.info("created index %s", name)
    return True


async def ensure_indices(
    client: AsyncElasticsearch,
    settings: IndexNamer,
    *,
    shards: int = 1,
    replicas: int = 0,
) -> None:
    """Create every missing index (:func:`ensure_index`); put the current mapping and the
    index's refresh interval (:func:`refresh_interval_for`, a dynamic setting) on the
    existing ones, so an upgrade applies both without a reindex.

    Idempotent and safe when several processes start at once. Existing data is never
    deleted; a mapping change that is not additive (e.g. a field changing type) raises
    :class:`IndexContractError`.
    """
    for logical, name in index_names(settings).items():
        refresh = refresh_interval_for(logical)
        body_settings = index_settings(shards=shards, replicas=replicas, refresh_interval=refresh)
        if await ensure_index(client, logical, name, body_settings):
            continue
        try:
            await client.indices.put_mapping(index=name, body=mapping_for(logical))
        except BadRequestError as exc:
            raise IndexContractError(
                f"index {name} cannot take the mapping of contract version "
                f"{CONTRACT_VERSION} (reindex needed): {exc.message}: {exc.info}"
            ) from exc
        current = await client.indices.get_settings(index=name, name="index.refresh_interval")
        if (
            current.get(name, {}).get("settings", {}).get("index", {}).get("refresh_interval")
            != refresh
        ):
            await client.indices.put_settings(
                index=name, settings={"index": {"refresh_interval": refresh}}
            )
            logger.info("index %s: refresh_interval set to %s", name, refresh)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _deep_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_deep_copy(item) for item in value]
    return value
