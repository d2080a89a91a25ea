"""Pure builders of Elasticsearch requests (query DSL as dicts) from validated parameters.

Nothing here does I/O: every function returns the keyword arguments of one
``AsyncElasticsearch`` call (``query``, ``sort``, ``from_``, ``size``, ...), so the exact
request is unit-tested without Elasticsearch. User input only ever lands in DSL *values*
(``term``/``terms``/``range``/``match``), never in a query string or a script.

Enrichment fields of opportunities
----------------------------------
``sales_rank``, ``root_category`` and ``amazon_sells_in_target`` describe the product in the
route's **target (sell) market**. When the worker denormalised them into the opportunity
document they are filtered there. A document without one of them (written by a worker that
does not enrich) is judged by the ``products`` document ``ASIN:SELL`` instead: the caller
runs :func:`product_join_search` on ``products`` and passes the matches
(:class:`ProductMatches`) to :func:`opportunity_search`. ``amazon_sells_in_target`` is
derived from ``products.amazon_in_stock``: Keepa's AMAZON price type (csv 0) has a current
offer in the target market, i.e. Amazon itself sells the product there.

Lifetime history
----------------
:func:`route_episodes_body` reads the past openings ("episodes") of one route of an ASIN
from ``opportunity-episodes``, newest first, at most :data:`EPISODES_PER_ROUTE` of them (the
figures of a route with more are those of its newest ones). :func:`pair_lifetimes_search`
counts every closed episode per market pair (with ``percentiles`` of ``lifetime_seconds`` from
an HDR histogram of 3 significant digits, within 0.1 %, used only beyond
:data:`EXACT_RANK_WINDOW`); :func:`pair_rank_body` then reads the exact nearest-rank value:
the episode at that rank of the pair's lifetimes sorted ascending. :func:`pair_states_search`
counts, per market pair, the routes open now and the routes closed now by a version that
writes episodes (``open_for_seconds`` present), for the reopen rate (docs/signals.md,
"Lifetime history").

Signal filters and sort
-----------------------
The sell market's quality signals (``sell_signals``, docs/signals.md) are only in the
opportunity document (an event of contract version 3); there is no ``products`` fallback.
An unknown signal (``null``, or a document written before signals existed) is treated so:

* ``exclude_spikes`` leaves out routes whose ``spike`` is true; unknown is kept (a missing
  average is no evidence of a spike);
* ``min_monthly_sales`` keeps routes whose estimated monthly sales are at least the value;
  unknown is left out (a route must show it sells);
* ``max_offers`` keeps routes with at most that many new offers; unknown is left out;
* ``sort=expected_monthly_profit`` puts routes whose expected monthly profit is unknown
  last, in either order, ranked among themselves by profit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from app.api.params import (
    HistoryParams,
    OpportunityFilters,
    OpportunitySort,
    PageParams,
    SortOrder,
)
from app.domain.markets import Market
from app.domain.utc import format_utc

__all__ = [
    "ASIN_CARDINALITY_PRECISION",
    "ENRICHED_FIELDS",
    "EPISODES_PER_ROUTE",
    "EXACT_RANK_WINDOW",
    "JOIN_LIMIT",
    "LIFETIME_PERCENTS",
    "MAX_ROUTES_PER_ASIN",
    "MONTHLY_SALES_FIELD",
    "OFFER_COUNT_FIELD",
    "SPIKE_FIELD",
    "EnrichedFilter",
    "ProductMatches",
    "enriched_filters",
    "freshness_search",
    "history_search",
    "ingest_runs_search",
    "missing_field_count",
    "open_opportunities_query",
    "opportunity_detail_search",
    "opportunity_search",
    "pair_lifetimes_search",
    "pair_rank_body",
    "pair_states_search",
    "product_join_search",
    "product_search",
    "route_episodes_body",
    "watchlist_search",
]

#: ``cardinality`` is exact below this many distinct ASINs (Elasticsearch's maximum).
ASIN_CARDINALITY_PRECISION: Final = 40_000
#: Most ``products`` documents one enrichment fallback join reads (the result window).
JOIN_LIMIT: Final = 10_000
#: 5 markets -> 20 ordered routes; one ``opportunities`` document per route.
MAX_ROUTES_PER_ASIN: Final = len(Market) * (len(Market) - 1)

#: Most episodes of one route read for its lifetime figures (newest first).
EPISODES_PER_ROUTE: Final = 1000
#: The percentiles of a market pair's lifetimes: the median and the 90th percentile.
LIFETIME_PERCENTS: Final = (50.0, 90.0)
#: Highest rank read exactly by :func:`pair_rank_body` (``from + size`` may not exceed
#: Elasticsearch's ``index.max_result_window``, 10,000 by default).
EXACT_RANK_WINDOW: Final = 10_000
#: HDR histogram precision of those percentiles: 3 significant digits, within 0.1 %.
_HDR_DIGITS: Final = 3

_SORT_FIELDS: Final[Mapping[OpportunitySort, str]] = {
    OpportunitySort.PROFIT: "profit_eur_cents",
    OpportunitySort.ROI: "roi",
    OpportunitySort.MARGIN: "margin",
    OpportunitySort.NEWEST: "first_seen",
    OpportunitySort.EXPECTED_MONTHLY_PROFIT: "expected_monthly_profit_eur_cents",
}

#: The signal fields of an ``opportunities`` document the filters read.
SPIKE_FIELD: Final = "sell_signals.stability.spike"
MONTHLY_SALES_FIELD: Final = "sell_signals.demand.estimated_monthly_sales"
OFFER_COUNT_FIELD: Final = "sell_signals.competition.new_offer_count"

#: Opportunity field -> the ``products`` field it is derived from (for the target market).
ENRICHED_FIELDS: Final[Mapping[str, str]] = {
    "sales_rank": "sales_rank",
    "root_category": "root_category",
    "amazon_sells_in_target": "amazon_in_stock",
    "image_url": "image_url",
}


@dataclass(frozen=True, slots=True)
class EnrichedFilter:
    """A filter on an enrichment field: ``condition`` on the opportunity document, and the
    same condition on the ``products`` document of the target market (``product_condition``).
    ``exclude`` = routes matching it are left out (else only matching routes are kept)."""

    name: str
    field: str
    condition: dict[str, Any]
    product_condition: dict[str, Any]
    exclude: bool = False


@dataclass(frozen=True, slots=True)
class ProductMatches:
    """ASINs whose ``products`` document in a market matches an :class:`EnrichedFilter`."""

    by_market: Mapping[Market, Sequence[str]] = field(default_factory=dict)
    truncated: bool = False


def enriched_filters(filters: OpportunityFilters) -> list[EnrichedFilter]:
    """The enrichment-field filters that ``filters`` asks for (possibly none)."""
    found: list[EnrichedFilter] = []
    if filters.max_sales_rank is not None:
        found.append(
            EnrichedFilter(
                "max_sales_rank",
                "sales_rank",
                {"range": {"sales_rank": {"lte": filters.max_sales_rank}}},
                {"range": {"sales_rank": {"lte": filters.max_sales_rank}}},
            )
        )
    if filters.category is not None:
        found.append(
            EnrichedFilter(
                "category",
                "root_category",
                {"term": {"root_category": filters.category}},
                {"term": {"root_category": filters.category}},
            )
        )
    if filters.exclude_amazon_seller:
        found.append(
            EnrichedFilter(
                "exclude_amazon_seller",
                "amazon_sells_in_target",
                {"term": {"amazon_sells_in_target": True}},
                {"term": {"amazon_in_stock": True}},
                exclude=True,
            )
        )
    return found


def _market_values(markets: Sequence[Market] | None) -> list[str] | None:
    return None if not markets else [m.value for m in markets]


def open_opportunities_query(filters: OpportunityFilters | None = None) -> dict[str, Any]:
    """``state: open`` plus the plain (non-enrichment) filters of ``filters``."""
    clauses: list[dict[str, Any]] = [{"term": {"state": "open"}}]
    if filters is None:
        return {"bool": {"filter": clauses}}
    if buy := _market_values(filters.buy_market):
        clauses.append({"terms": {"buy_market": buy}})
    if sell := _market_values(filters.sell_market):
        clauses.append({"terms": {"sell_market": sell}})
    if (cents := filters.min_profit_eur_cents) is not None:
        clauses.append({"range": {"profit_eur_cents": {"gte": cents}}})
    if filters.min_roi is not None:
        clauses.append({"range": {"roi": {"gte": filters.min_roi}}})
    if filters.min_margin is not None:
        clauses.append({"range": {"margin": {"gte": filters.min_margin}}})
    if filters.min_monthly_sales is not None:
        clauses.append({"range": {MONTHLY_SALES_FIELD: {"gte": filters.min_monthly_sales}}})
    if filters.max_offers is not None:
        clauses.append({"range": {OFFER_COUNT_FIELD: {"lte": filters.max_offers}}})
    if filters.q is not None:
        clauses.append({"match": {"title": {"query": filters.q, "operator": "and"}}})
    query: dict[str, Any] = {"bool": {"filter": clauses}}
    if filters.exclude_spikes:
        query["bool"]["must_not"] = [{"term": {SPIKE_FIELD: True}}]
    return query


def missing_field_count(filters: OpportunityFilters, enriched: EnrichedFilter) -> dict[str, Any]:
    """``count`` kwargs: open routes (matching the plain filters) lacking ``enriched.field``,
    i.e. whether the ``products`` fallback join is needed at all."""
    base = open_opportunities_query(filters)
    return {
        "query": {
            "bool": {
                "filter": base["bool"]["filter"],
                "must_not": [
                    *base["bool"].get("must_not", []),
                    {"exists": {"field": enriched.field}},
                ],
            }
        }
    }


def product_join_search(
    enriched: EnrichedFilter, sell_markets: Sequence[Market] | None
) -> dict[str, Any]:
    """``search`` kwargs on ``products``: the (ASIN, market) pairs matching the filter."""
    clauses: list[dict[str, Any]] = [enriched.product_condition]
    if markets := _market_values(sell_markets):
        clauses.append({"terms": {"market": markets}})
    return {
        "query": {"bool": {"filter": clauses}},
        "source": ["asin", "market"],
        "size": JOIN_LIMIT,
        "track_total_hits": True,
        "sort": [{"asin": "asc"}, {"market": "asc"}],
    }


def _fallback_clause(field_name: str, matches: ProductMatches) -> dict[str, Any] | None:
    per_market = [
        {
            "bool": {
                "filter": [
                    {"term": {"sell_market": market.value}},
                    {"terms": {"asin": sorted(set(asins))}},
                ]
            }
        }
        for market, asins in sorted(matches.by_market.items())
        if asins
    ]
    if not per_market:
        return None
    return {
        "bool": {
            "must_not": [{"exists": {"field": field_name}}],
            "should": per_market,
            "minimum_should_match": 1,
        }
    }


def _enriched_clause(enriched: EnrichedFilter, matches: ProductMatches | None) -> dict[str, Any]:
    """The document's own field satisfies the condition, or (field absent) its product does."""
    fallback = None if matches is None else _fallback_clause(enriched.field, matches)
    if fallback is None:
        return enriched.condition
    return {"bool": {"should": [enriched.condition, fallback], "minimum_should_match": 1}}


def _sort(filters: OpportunityFilters) -> list[dict[str, Any]]:
    primary = _SORT_FIELDS[filters.sort]
    order = filters.order.value
    key: dict[str, Any] = {"order": order}
    if filters.sort is OpportunitySort.EXPECTED_MONTHLY_PROFIT:
        key["missing"] = "_last"  # unknown last, ascending or descending
    sort: list[dict[str, Any]] = [{primary: key}]
    if primary != "profit_eur_cents":
        sort.append({"profit_eur_cents": {"order": SortOrder.DESC.value}})
    sort += [{"asin": {"order": "asc"}}, {"route": {"order": "asc"}}]
    return sort


def opportunity_search(
    filters: OpportunityFilters,
    fallbacks: Mapping[str, ProductMatches] | None = None,
) -> dict[str, Any]:
    """``search`` kwargs on ``opportunities`` for ``GET /opportunities``.

    ``fallbacks``: :class:`EnrichedFilter` name -> the ``products`` matches for documents
    without the enrichment field (see the module doc). Without an entry such documents do
    not match an inclusion filter and are kept by an exclusion filter.

    With ``best_per_asin`` the hits are collapsed on ``asin`` (the first route under the
    sort wins) and a ``cardinality`` aggregation counts the ASINs for the total.
    """
    query = open_opportunities_query(filters)
    must_not: list[dict[str, Any]] = list(query["bool"].get("must_not", []))
    for enriched in enriched_filters(filters):
        clause = _enriched_clause(enriched, (fallbacks or {}).get(enriched.name))
        if enriched.exclude:
            must_not.append(clause)
        else:
            query["bool"]["filter"].append(clause)
    if must_not:
        query["bool"]["must_not"] = must_not
    body: dict[str, Any] = {
        "query": query,
        "sort": _sort(filters),
        "from_": filters.offset,
        "size": filters.page_size,
        "track_total_hits": True,
    }
    if filters.best_per_asin:
        body["collapse"] = {"field": "asin"}
        body["aggs"] = {
            "asins": {
                "cardinality": {"field": "asin", "precision_threshold": ASIN_CARDINALITY_PRECISION}
            }
        }
    return body


def opportunity_detail_search(asin: str) -> dict[str, Any]:
    """Every route of one ASIN, open ones first, then by profit."""
    return {
        "query": {"bool": {"filter": [{"term": {"asin": asin}}]}},
        "sort": [
            {"state": {"order": "desc"}},  # "open" > "closed"
            {"profit_eur_cents": {"order": "desc"}},
            {"route": {"order": "asc"}},
        ],
        "size": MAX_ROUTES_PER_ASIN,
    }


def product_search(asin: str) -> dict[str, Any]:
    """The latest quote of one ASIN in each market (one ``products`` document per market)."""
    return {
        "query": {"bool": {"filter": [{"term": {"asin": asin}}]}},
        "sort": [{"market": {"order": "asc"}}],
        "size": len(Market),
    }


def history_search(asin: str, params: HistoryParams) -> dict[str, Any]:
    """The newest ``params.limit`` observations, newest first (the caller reverses them)."""
    clauses: list[dict[str, Any]] = [{"term": {"asin": asin}}]
    if markets := _market_values(params.market):
        clauses.append({"terms": {"market": markets}})
    window: dict[str, str] = {}
    if params.since is not None:
        window["gte"] = format_utc(params.since)
    if params.until is not None:
        window["lte"] = format_utc(params.until)
    if window:
        clauses.append({"range": {"observed_at": window}})
    return {
        "query": {"bool": {"filter": clauses}},
        # newest first (the caller reverses: oldest first, markets A-Z at equal times)
        "sort": [{"observed_at": {"order": "desc"}}, {"market": {"order": "desc"}}],
        "size": params.limit,
        "track_total_hits": True,
    }


def watchlist_search(page: PageParams) -> dict[str, Any]:
    """The watchlist, highest priority first, then by ASIN."""
    return {
        "query": {"match_all": {}},
        "sort": [
            {"priority": {"order": "desc", "missing": "_last"}},
            {"asin": {"order": "asc"}},
        ],
        "from_": page.offset,
        "size": page.page_size,
        "track_total_hits": True,
    }


def freshness_search() -> dict[str, Any]:
    """Per market: the newest ``observed_at`` and the number of products."""
    return {
        "size": 0,
        "aggs": {
            "markets": {
                "terms": {"field": "market", "size": len(Market) * 2},
                "aggs": {"newest": {"max": {"field": "observed_at"}}},
            }
        },
    }


def ingest_runs_search(since: datetime) -> dict[str, Any]:
    """The latest ingestion run, and the tokens consumed by the runs finished since ``since``.

    ``unmapped_type`` keeps the sort valid while the ``ingest-runs`` index has no runs yet.
    """
    return {
        "size": 1,
        "sort": [{"finished_at": {"order": "desc", "unmapped_type": "date"}}],
        "aggs": {
            "recent": {
                "filter": {"range": {"finished_at": {"gte": format_utc(since)}}},
                "aggs": {"tokens": {"sum": {"field": "tokens_consumed"}}},
            }
        },
    }


def route_episodes_body(opportunity_id: str) -> dict[str, Any]:
    """The body of one ``msearch`` search on ``opportunity-episodes``: the newest
    :data:`EPISODES_PER_ROUTE` episodes of the route ``ASIN:BUY:SELL``."""
    return {
        "query": {"bool": {"filter": [{"term": {"opportunity_id": opportunity_id}}]}},
        "sort": [{"opened_at": {"order": "desc"}}],
        "size": EPISODES_PER_ROUTE,
        "_source": ["opened_at", "closed_at"],
        "track_total_hits": True,
    }


def pair_lifetimes_search() -> dict[str, Any]:
    """``search`` kwargs on ``opportunity-episodes``: per market pair (``route``), the closed
    episodes (``doc_count``) and the median / p90 of their ``lifetime_seconds``."""
    return {
        "size": 0,
        "aggs": {
            "pairs": {
                "terms": {"field": "route", "size": MAX_ROUTES_PER_ASIN},
                "aggs": {
                    "lifetimes": {
                        "percentiles": {
                            "field": "lifetime_seconds",
                            "percents": list(LIFETIME_PERCENTS),
                            "hdr": {"number_of_significant_value_digits": _HDR_DIGITS},
                        }
                    }
                },
            }
        },
    }


def pair_rank_body(pair: str, rank: int) -> dict[str, Any]:
    """The body of one ``msearch`` search on ``opportunity-episodes``: the episode at
    ``rank`` (1-based, at most :data:`EXACT_RANK_WINDOW`) of the market pair's closed
    episodes sorted by lifetime, ascending."""
    if not 1 <= rank <= EXACT_RANK_WINDOW:
        raise ValueError(f"rank must be in 1..{EXACT_RANK_WINDOW}, got {rank}")
    return {
        "query": {"bool": {"filter": [{"term": {"route": pair}}]}},
        "sort": [{"lifetime_seconds": {"order": "asc"}}],
        "from": rank - 1,
        "size": 1,
        "_source": ["lifetime_seconds"],
        "track_total_hits": False,
    }


def pair_states_search() -> dict[str, Any]:
    """``search`` kwargs on ``opportunities``: the newest event time of the index, and per
    market pair the routes open now and those closed now with ``open_for_seconds`` (closed
    by a version that writes episodes: their closing is the route's last episode)."""
    return {
        "size": 0,
        "aggs": {
            "newest": {"max": {"field": "event_time"}},
            "pairs": {
                "terms": {"field": "route", "size": MAX_ROUTES_PER_ASIN},
                "aggs": {
                    "open": {"filter": {"term": {"state": "open"}}},
                    "closed_last": {
                        "filter": {
                            "bool": {
                                "filter": [
                                    {"term": {"state": "closed"}},
                                    {"exists": {"field": "open_for_seconds"}},
                                ]
                            }
                        }
                    },
                },
            },
        },
    }
