"""Pure Elasticsearch request building: every filter, sort, pagination, collapse and the
enrichment fallback, checked on the DSL dicts without Elasticsearch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from app.api.params import HistoryParams, OpportunityFilters, PageParams
from app.api.queries import (
    ASIN_CARDINALITY_PRECISION,
    JOIN_LIMIT,
    MAX_ROUTES_PER_ASIN,
    MONTHLY_SALES_FIELD,
    OFFER_COUNT_FIELD,
    SPIKE_FIELD,
    ProductMatches,
    enriched_filters,
    freshness_search,
    history_search,
    ingest_runs_search,
    missing_field_count,
    open_opportunities_query,
    opportunity_detail_search,
    opportunity_search,
    product_join_search,
    product_search,
    watchlist_search,
)
from app.domain.markets import Market

OPEN = {"term": {"state": "open"}}


def filters(**values: Any) -> OpportunityFilters:
    return OpportunityFilters.model_validate(values)


def clauses(body: dict[str, Any]) -> list[dict[str, Any]]:
    filtered: list[dict[str, Any]] = body["query"]["bool"]["filter"]
    return filtered


def test_defaults_are_open_routes_by_profit_collapsed_per_asin() -> None:
    body = opportunity_search(filters())
    assert clauses(body) == [OPEN]
    assert "must_not" not in body["query"]["bool"]
    assert body["sort"] == [
        {"profit_eur_cents": {"order": "desc"}},
        {"asin": {"order": "asc"}},
        {"route": {"order": "asc"}},
    ]
    assert body["from_"] == 0
    assert body["size"] == 50
    assert body["track_total_hits"] is True
    assert body["collapse"] == {"field": "asin"}
    assert body["aggs"] == {
        "asins": {
            "cardinality": {"field": "asin", "precision_threshold": ASIN_CARDINALITY_PRECISION}
        }
    }


def test_all_routes_has_no_collapse_and_no_cardinality() -> None:
    body = opportunity_search(filters(best_per_asin=False))
    assert "collapse" not in body
    assert "aggs" not in body


@pytest.mark.parametrize(
    ("values", "clause"),
    [
        ({"buy_market": ["DE", "FR"]}, {"terms": {"buy_market": ["DE", "FR"]}}),
        ({"buy_market": "de,uk"}, {"terms": {"buy_market": ["DE", "GB"]}}),
        ({"sell_market": ["IT,ES", "ES"]}, {"terms": {"sell_market": ["IT", "ES"]}}),
        ({"min_profit_eur": "7.5"}, {"range": {"profit_eur_cents": {"gte": 750}}}),
        ({"min_profit_eur": "0.01"}, {"range": {"profit_eur_cents": {"gte": 1}}}),
        ({"min_profit_eur": "12"}, {"range": {"profit_eur_cents": {"gte": 1200}}}),
        ({"min_roi": 0.25}, {"range": {"roi": {"gte": 0.25}}}),
        ({"min_margin": "0.1"}, {"range": {"margin": {"gte": 0.1}}}),
        (
            {"q": "  water bottle "},
            {"match": {"title": {"query": "water bottle", "operator": "and"}}},
        ),
    ],
)
def test_plain_filters(values: dict[str, Any], clause: dict[str, Any]) -> None:
    assert clauses(opportunity_search(filters(**values))) == [OPEN, clause]


def test_blank_q_is_no_filter() -> None:
    assert clauses(opportunity_search(filters(q="   "))) == [OPEN]


@pytest.mark.parametrize("value", ["", ",", " , "])
def test_a_market_parameter_without_a_market_is_refused(value: str) -> None:
    # an empty list would silently mean "every market": the parameter must be left out for that
    with pytest.raises(ValidationError, match="no market code given"):
        filters(sell_market=value)


def test_user_text_only_lands_in_dsl_values() -> None:
    nasty = '"} OR state:closed {"query": *'
    body = opportunity_search(filters(q=nasty))
    assert clauses(body)[1] == {"match": {"title": {"query": nasty.strip(), "operator": "and"}}}


def test_filters_combine() -> None:
    body = opportunity_search(
        filters(buy_market="DE", sell_market="FR", min_profit_eur="5", min_roi=0.2, q="x")
    )
    assert clauses(body) == [
        OPEN,
        {"terms": {"buy_market": ["DE"]}},
        {"terms": {"sell_market": ["FR"]}},
        {"range": {"profit_eur_cents": {"gte": 500}}},
        {"range": {"roi": {"gte": 0.2}}},
        {"match": {"title": {"query": "x", "operator": "and"}}},
    ]


@pytest.mark.parametrize(
    ("sort", "field"),
    [
        ("profit", "profit_eur_cents"),
        ("roi", "roi"),
        ("margin", "margin"),
        ("newest", "first_seen"),
    ],
)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sorts(sort: str, field: str, order: str) -> None:
    body = opportunity_search(filters(sort=sort, order=order))
    assert body["sort"][0] == {field: {"order": order}}
    assert body["sort"][-2:] == [{"asin": {"order": "asc"}}, {"route": {"order": "asc"}}]
    if field != "profit_eur_cents":  # ties broken by profit, then a stable order
        assert body["sort"][1] == {"profit_eur_cents": {"order": "desc"}}


def test_pagination() -> None:
    body = opportunity_search(filters(page=3, page_size=20))
    assert (body["from_"], body["size"]) == (40, 20)


def test_enrichment_filters_without_fallback_use_the_opportunity_fields() -> None:
    body = opportunity_search(filters(max_sales_rank=5000, category=123))
    assert clauses(body)[1:] == [
        {"range": {"sales_rank": {"lte": 5000}}},
        {"term": {"root_category": 123}},
    ]
    body = opportunity_search(filters(exclude_amazon_seller=True))
    assert clauses(body) == [OPEN]
    assert body["query"]["bool"]["must_not"] == [{"term": {"amazon_sells_in_target": True}}]


def test_enrichment_fallback_matches_the_products_of_the_sell_market() -> None:
    matches = ProductMatches({Market.FR: ["B0000000B2", "B0000000A1"], Market.IT: []})
    body = opportunity_search(filters(max_sales_rank=100), {"max_sales_rank": matches})
    assert clauses(body)[1] == {
        "bool": {
            "should": [
                {"range": {"sales_rank": {"lte": 100}}},
                {
                    "bool": {
                        "must_not": [{"exists": {"field": "sales_rank"}}],
                        "should": [
                            {
                                "bool": {
                                    "filter": [
                                        {"term": {"sell_market": "FR"}},
                                        {"terms": {"asin": ["B0000000A1", "B0000000B2"]}},
                                    ]
                                }
                            }
                        ],
                        "minimum_should_match": 1,
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def test_exclusion_fallback_goes_to_must_not() -> None:
    matches = ProductMatches({Market.GB: ["B0000000A1"]})
    body = opportunity_search(
        filters(exclude_amazon_seller=True), {"exclude_amazon_seller": matches}
    )
    (excluded,) = body["query"]["bool"]["must_not"]
    direct, fallback = excluded["bool"]["should"]
    assert direct == {"term": {"amazon_sells_in_target": True}}
    assert fallback["bool"]["must_not"] == [{"exists": {"field": "amazon_sells_in_target"}}]
    assert fallback["bool"]["should"][0]["bool"]["filter"] == [
        {"term": {"sell_market": "GB"}},
        {"terms": {"asin": ["B0000000A1"]}},
    ]


def test_empty_fallback_is_the_plain_condition() -> None:
    body = opportunity_search(filters(category=5), {"category": ProductMatches({})})
    assert clauses(body)[1] == {"term": {"root_category": 5}}


def test_enriched_filters_and_their_product_conditions() -> None:
    found = {
        e.name: e
        for e in enriched_filters(
            filters(max_sales_rank=10, category=7, exclude_amazon_seller=True)
        )
    }
    assert found["max_sales_rank"].product_condition == {"range": {"sales_rank": {"lte": 10}}}
    assert found["category"].product_condition == {"term": {"root_category": 7}}
    assert found["exclude_amazon_seller"].product_condition == {"term": {"amazon_in_stock": True}}
    assert found["exclude_amazon_seller"].exclude
    assert enriched_filters(filters()) == []


def test_missing_field_count_and_product_join() -> None:
    f = filters(sell_market="FR,IT", max_sales_rank=10, min_roi=0.3)
    (enriched,) = enriched_filters(f)
    count = missing_field_count(f, enriched)
    assert count["query"]["bool"]["filter"] == clauses({"query": open_opportunities_query(f)})
    assert count["query"]["bool"]["must_not"] == [{"exists": {"field": "sales_rank"}}]
    join = product_join_search(enriched, f.sell_market)
    assert join["query"]["bool"]["filter"] == [
        {"range": {"sales_rank": {"lte": 10}}},
        {"terms": {"market": ["FR", "IT"]}},
    ]
    assert join["size"] == JOIN_LIMIT
    assert join["source"] == ["asin", "market"]
    assert product_join_search(enriched, None)["query"]["bool"]["filter"] == [
        {"range": {"sales_rank": {"lte": 10}}}
    ]


def test_detail_product_and_watchlist_searches() -> None:
    detail = opportunity_detail_search("B0TESTAS1N")
    assert detail["query"] == {"bool": {"filter": [{"term": {"asin": "B0TESTAS1N"}}]}}
    assert detail["sort"][0] == {"state": {"order": "desc"}}
    assert detail["size"] == MAX_ROUTES_PER_ASIN == 20
    assert product_search("B0TESTAS1N")["size"] == 5
    page = watchlist_search(PageParams(page=2, page_size=10))
    assert (page["from_"], page["size"]) == (10, 10)
    assert page["sort"][0] == {"priority": {"order": "desc", "missing": "_last"}}


def test_history_search_windows_and_markets() -> None:
    assert history_search("B0TESTAS1N", HistoryParams())["query"] == {
        "bool": {"filter": [{"term": {"asin": "B0TESTAS1N"}}]}
    }
    params = HistoryParams.model_validate(
        {
            "market": "FR,de",
            "since": "2026-11-20T13:00:00+01:00",
            "until": "2026-11-21T00:00:00Z",
            "limit": 7,
        }
    )
    body = history_search("B0TESTAS1N", params)
    assert body["query"]["bool"]["filter"][1:] == [
        {"terms": {"market": ["FR", "DE"]}},
        {"range": {"observed_at": {"gte": "2026-11-20T12:00:00Z", "lte": "2026-11-21T00:00:00Z"}}},
    ]
    assert body["size"] == 7
    assert body["sort"] == [{"observed_at": {"order": "desc"}}, {"market": {"order": "desc"}}]


def test_freshness_and_ingest_runs() -> None:
    aggs = freshness_search()["aggs"]["markets"]
    assert aggs["terms"]["field"] == "market"
    assert aggs["aggs"] == {"newest": {"max": {"field": "observed_at"}}}
    since = datetime(2026, 11, 24, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    runs = ingest_runs_search(since)
    assert runs["sort"] == [{"finished_at": {"order": "desc", "unmapped_type": "date"}}]
    assert runs["aggs"]["recent"]["filter"] == {
        "range": {"finished_at": {"gte": "2026-11-24T10:00:00Z"}}
    }
    assert since.astimezone(UTC).hour == 10


# --- the sell market's signals (docs: app/api/queries.py, "Signal filters and sort") -------


def test_signal_filters_are_dsl_clauses_on_the_signal_fields() -> None:
    body = opportunity_search(filters(exclude_spikes=True, min_monthly_sales=30, max_offers=5))
    assert clauses(body) == [
        OPEN,
        {"range": {MONTHLY_SALES_FIELD: {"gte": 30}}},  # unknown: no value, not in range: out
        {"range": {OFFER_COUNT_FIELD: {"lte": 5}}},  # unknown: out
    ]
    # a spike is left out; an unknown flag (null or absent) does not match the term: kept
    assert body["query"]["bool"]["must_not"] == [{"term": {SPIKE_FIELD: True}}]
    assert (SPIKE_FIELD, MONTHLY_SALES_FIELD, OFFER_COUNT_FIELD) == (
        "sell_signals.stability.spike",
        "sell_signals.demand.estimated_monthly_sales",
        "sell_signals.competition.new_offer_count",
    )


def test_a_zero_is_a_filter_not_no_filter() -> None:
    body = opportunity_search(filters(min_monthly_sales=0, max_offers=0))
    assert {"range": {OFFER_COUNT_FIELD: {"lte": 0}}} in clauses(body)
    assert {"range": {MONTHLY_SALES_FIELD: {"gte": 0}}} in clauses(body)


def test_the_spike_exclusion_joins_the_enrichment_exclusions() -> None:
    body = opportunity_search(filters(exclude_spikes=True, exclude_amazon_seller=True))
    assert body["query"]["bool"]["must_not"] == [
        {"term": {SPIKE_FIELD: True}},
        {"term": {"amazon_sells_in_target": True}},
    ]
    # and the count that decides whether the products join is needed keeps it too
    [enriched] = enriched_filters(filters(exclude_spikes=True, exclude_amazon_seller=True))
    count = missing_field_count(filters(exclude_spikes=True), enriched)
    assert count["query"]["bool"]["must_not"] == [
        {"term": {SPIKE_FIELD: True}},
        {"exists": {"field": "amazon_sells_in_target"}},
    ]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_by_expected_monthly_profit_puts_unknown_last(order: str) -> None:
    body = opportunity_search(filters(sort="expected_monthly_profit", order=order))
    assert body["sort"] == [
        {"expected_monthly_profit_eur_cents": {"order": order, "missing": "_last"}},
        {"profit_eur_cents": {"order": "desc"}},
        {"asin": {"order": "asc"}},
        {"route": {"order": "asc"}},
    ]


@pytest.mark.parametrize(
    "values",
    [
        {"min_monthly_sales": -1},
        {"max_offers": -1},
        {"min_monthly_sales": 1.5},
        {"max_offers": 100_001},
        {"exclude_spikes": "maybe"},
    ],
)
def test_signal_filters_are_validated(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        filters(**values)
