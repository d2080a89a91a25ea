"""Lifetime history in the API: the pair summaries from aggregation answers (checked against
app.domain.lifetimes.summarize on the same scripted episodes), a route's summary, the JSON
shape, the request builders, the cache and GET /stats/lifetimes (fake Elasticsearch answers;
the real ones: tests/integration/api/test_lifetimes_api.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from api_fakes import client_with

from app.api.lifetimes import (
    NO_EPISODES,
    PairLifetimeCache,
    lifetime_figures,
    pair_lifetimes,
    pair_ranks,
    route_summary,
    usually_lasts_text,
)
from app.api.queries import (
    EXACT_RANK_WINDOW,
    pair_lifetimes_search,
    pair_rank_body,
    pair_states_search,
    route_episodes_body,
)
from app.domain.lifetimes import MEDIAN, P90, Episode, summarize
from app.domain.utc import format_utc
from app.settings import Settings

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)
A, B = "B0LIFETIM1", "B0LIFETIM2"

# The scripted history (hours after T0):
#   A DE:FR  closed 0-2 (2 h), closed 3-8 (5 h), open since 10 (its document: open)
#   B DE:FR  closed 1-2 (1 h)                    (its document: closed, by this version)
#   A DE:IT  closed 0-0.5, closed 1-4            (its document: closed, by this version)
DE_FR = [
    Episode(f"{A}:DE:FR", T0, T0 + 2 * H),
    Episode(f"{A}:DE:FR", T0 + 3 * H, T0 + 8 * H),
    Episode(f"{A}:DE:FR", T0 + 10 * H),
    Episode(f"{B}:DE:FR", T0 + H, T0 + 2 * H),
]
DE_IT = [
    Episode(f"{A}:DE:IT", T0, T0 + 0.5 * H),
    Episode(f"{A}:DE:IT", T0 + H, T0 + 4 * H),
]
UNTIL = T0 + 12 * H

# What Elasticsearch answers for it. DE:FR: 3 closed episodes, lifetimes 1 h, 2 h, 5 h; the
# HDR estimates are a bucket's upper end (3603, 7203, 18011), the exact ranks are read apart.
EPISODES_ANSWER = {
    "aggregations": {
        "pairs": {
            "buckets": [
                {
                    "key": "DE:FR",
                    "doc_count": 3,
                    "lifetimes": {"values": {"50.0": 7203.99, "90.0": 18011.99}},
                },
                {
                    "key": "DE:IT",
                    "doc_count": 2,
                    "lifetimes": {"values": {"50.0": 1800.0, "90.0": 10807.99}},
                },
            ]
        }
    }
}
STATES_ANSWER = {
    "aggregations": {
        "newest": {"value": 1.0, "value_as_string": format_utc(UNTIL)},
        "pairs": {
            "buckets": [
                {
                    "key": "DE:FR",
                    "doc_count": 2,
                    "open": {"doc_count": 1},
                    "closed_last": {"doc_count": 1},
                },
                {
                    "key": "DE:IT",
                    "doc_count": 1,
                    "open": {"doc_count": 0},
                    "closed_last": {"doc_count": 1},
                },
            ]
        },
    }
}
# rank ceil(0.5 x 3) = 2 -> 2 h; ceil(0.9 x 3) = 3 -> 5 h; DE:IT: ranks 1 and 2 -> 30 min, 3 h
EXACT = {
    ("DE:FR", MEDIAN): 7200,
    ("DE:FR", P90): 18000,
    ("DE:IT", MEDIAN): 1800,
    ("DE:IT", P90): 10800,
}


def test_pair_ranks_are_the_nearest_ranks_of_the_closed_counts() -> None:
    assert pair_ranks(EPISODES_ANSWER) == [
        ("DE:FR", MEDIAN, 2),
        ("DE:FR", P90, 3),
        ("DE:IT", MEDIAN, 1),
        ("DE:IT", P90, 2),
    ]
    assert pair_ranks({"aggregations": {"pairs": {"buckets": []}}}) == []


@pytest.mark.parametrize(("pair", "episodes"), [("DE:FR", DE_FR), ("DE:IT", DE_IT)])
def test_pair_summaries_match_the_domain_on_the_same_episodes(
    pair: str, episodes: list[Episode]
) -> None:
    got = pair_lifetimes(EPISODES_ANSWER, STATES_ANSWER, EXACT)
    expected = summarize(episodes, until=UNTIL)
    summary = got.of(pair)
    assert (summary.episodes, summary.closed, summary.still_open) == (
        expected.episodes,
        expected.closed,
        expected.still_open,
    )
    assert (summary.median, summary.p90) == (expected.median, expected.p90)
    assert (summary.reopened, summary.reopen_rate) == (expected.reopened, expected.reopen_rate)
    assert got.until == UNTIL


def test_pair_figures_by_hand() -> None:
    summary = pair_lifetimes(EPISODES_ANSWER, STATES_ANSWER, EXACT).of("DE:FR")
    # 3 closed - 1 route closed now (B) = 2 reopened (A's two closings); 2/3 = 0.6667
    assert (summary.closed, summary.still_open, summary.reopened) == (3, 1, 2)
    assert summary.reopen_rate == Decimal("0.6667")
    assert (summary.median, summary.p90) == (2 * H, 5 * H)
    figures = lifetime_figures(summary)
    assert figures.model_dump() == {
        "episodes": 4,
        "closed": 3,
        "still_open": 1,
        "median_seconds": 7200,
        "p90_seconds": 18000,
        "reopened": 2,
        "reopen_rate": 0.6667,
        "surviving_24h": None,  # not computed for a pair
        "surviving_72h": None,
    }


def test_without_an_exact_rank_the_hdr_estimate_is_used() -> None:
    summary = pair_lifetimes(EPISODES_ANSWER, STATES_ANSWER, {}).of("DE:FR")
    assert (summary.median, summary.p90) == (timedelta(seconds=7204), timedelta(seconds=18012))


def test_an_unknown_pair_or_no_data_has_no_episodes() -> None:
    empty = pair_lifetimes({}, {}, {})
    assert empty.until is None
    assert empty.of("DE:FR") == NO_EPISODES
    assert lifetime_figures(NO_EPISODES).median_seconds is None


def test_a_pair_of_routes_closed_before_the_upgrade_only_has_no_summary() -> None:
    states = {
        "aggregations": {
            "pairs": {
                "buckets": [
                    {"key": "FR:DE", "open": {"doc_count": 0}, "closed_last": {"doc_count": 0}}
                ]
            }
        }
    }
    assert dict(pair_lifetimes({}, states, {}).summaries) == {}


def test_reopened_is_never_negative() -> None:
    states = {
        "aggregations": {
            "pairs": {
                "buckets": [
                    {"key": "DE:IT", "open": {"doc_count": 0}, "closed_last": {"doc_count": 5}}
                ]
            }
        }
    }
    summary = pair_lifetimes(EPISODES_ANSWER, states, EXACT).of("DE:IT")
    assert (summary.reopened, summary.reopen_rate) == (0, Decimal(0))


def _doc(
    asin: str, route: str, state: str, first_seen: datetime, last_seen: datetime
) -> dict[str, Any]:
    buy, sell = route.split(":")
    return {
        "asin": asin,
        "route": route,
        "buy_market": buy,
        "sell_market": sell,
        "state": state,
        "first_seen": format_utc(first_seen),
        "last_seen": format_utc(last_seen),
    }


def _hits(episodes: list[Episode]) -> list[dict[str, Any]]:
    return [
        {"opened_at": format_utc(e.opened_at), "closed_at": format_utc(e.closed_at)}
        for e in reversed(episodes)
        if e.closed_at is not None
    ]


def test_route_summary_adds_the_open_document_as_the_episode_in_progress() -> None:
    source = _doc(A, "DE:FR", "open", T0 + 10 * H, T0 + 11 * H)
    mine = [e for e in DE_FR if e.route_id.startswith(A)]
    summary = route_summary(source, _hits(mine), UNTIL)
    assert summary == summarize(mine, until=UNTIL)
    # closed 2 h and 5 h: median rank 1 -> 2 h, p90 rank 2 -> 5 h; both followed by an opening
    assert (summary.closed, summary.still_open, summary.median, summary.p90) == (2, 1, 2 * H, 5 * H)
    assert summary.reopen_rate == Decimal(1)
    # Kaplan-Meier at 24 h: at 2 h one of 3 closed (2/3), the open one (2 h so far) leaves,
    # at 5 h the last one closed: 0; everything observed ended before 24 h
    assert summary.surviving[24 * H] == Decimal(0)


def test_route_summary_until_is_never_before_the_route_s_own_times() -> None:
    source = _doc(A, "DE:FR", "open", T0 + 10 * H, T0 + 11 * H)
    # no newest event time known: the route's last_seen (11 h) -> open for 1 h so far
    summary = route_summary(source, [], None)
    assert (summary.episodes, summary.still_open, summary.closed) == (1, 1, 0)
    assert route_summary(source, [], T0) == summarize([DE_FR[2]], until=T0 + 11 * H)


def test_a_closed_route_has_only_its_recorded_episodes() -> None:
    source = _doc(B, "DE:FR", "closed", T0 + H, T0 + 2 * H)
    summary = route_summary(source, _hits(DE_FR[3:]), UNTIL)
    assert (summary.episodes, summary.closed, summary.reopened, summary.median) == (1, 1, 0, H)


def test_usually_lasts_prefers_the_route_then_the_pair() -> None:
    pairs = pair_lifetimes(EPISODES_ANSWER, STATES_ANSWER, EXACT)
    three = [Episode("r", T0 + i * 10 * H, T0 + (i * 10 + i + 1) * H) for i in range(3)]
    # closed after 1 h, 2 h, 3 h: median rank 2 -> 2 h, p90 rank 3 -> 3 h
    route = summarize(three, until=T0 + 40 * H)
    assert usually_lasts_text(route, pairs.of("DE:FR"), "DE:FR") == (
        "spreads on this route usually last 2 h (median of 3 closed; 90 % closed within 3 h)"
    )
    two = summarize(three[:2], until=T0 + 40 * H)
    assert usually_lasts_text(two, pairs.of("DE:FR"), "DE:FR") == (
        "spreads on DE:FR usually last 2 h (median of 3 closed; 90 % closed within 5 h)"
    )
    assert usually_lasts_text(two, pairs.of("DE:IT"), "DE:IT") is None  # 2 closed only


def test_request_builders() -> None:
    assert route_episodes_body(f"{A}:DE:FR") == {
        "query": {"bool": {"filter": [{"term": {"opportunity_id": f"{A}:DE:FR"}}]}},
        "sort": [{"opened_at": {"order": "desc"}}],
        "size": 1000,
        "_source": ["opened_at", "closed_at"],
        "track_total_hits": True,
    }
    body = pair_rank_body("DE:FR", 2)
    assert (body["from"], body["size"], body["sort"]) == (
        1,
        1,
        [{"lifetime_seconds": {"order": "asc"}}],
    )
    assert body["query"] == {"bool": {"filter": [{"term": {"route": "DE:FR"}}]}}
    for bad in (0, EXACT_RANK_WINDOW + 1):
        with pytest.raises(ValueError, match="rank must be"):
            pair_rank_body("DE:FR", bad)
    aggs = pair_lifetimes_search()["aggs"]["pairs"]
    assert aggs["terms"] == {"field": "route", "size": 20}
    percentiles = aggs["aggs"]["lifetimes"]["percentiles"]
    assert percentiles["hdr"] == {"number_of_significant_value_digits": 3}
    assert percentiles["percents"] == [50.0, 90.0]
    states = pair_states_search()["aggs"]
    assert states["newest"] == {"max": {"field": "event_time"}}
    assert states["pairs"]["aggs"]["closed_last"]["filter"]["bool"]["filter"] == [
        {"term": {"state": "closed"}},
        {"exists": {"field": "open_for_seconds"}},
    ]


#: The pairs' lifetimes at each rank (ascending): DE:FR 1 h, 2 h, 5 h; DE:IT 30 min, 3 h.
RANKED = {("DE:FR", 1): 3600, ("DE:FR", 2): 7200, ("DE:FR", 3): 18000, ("DE:IT", 1): 1800}
RANKED[("DE:IT", 2)] = 10800


@dataclass
class _Answer:
    body: Mapping[str, Any]


class FakeEs:
    """Answers the pair aggregation with the scripted answers; counts the requests."""

    def __init__(self) -> None:
        self.searches: list[str] = []
        self.msearches: list[list[Mapping[str, Any]]] = []

    async def search(self, *, index: str, **kwargs: Any) -> _Answer:
        self.searches.append(index)
        return _Answer(EPISODES_ANSWER if "episodes" in index else STATES_ANSWER)

    async def msearch(self, *, searches: list[Mapping[str, Any]]) -> dict[str, Any]:
        self.msearches.append(searches)
        answers = []
        for body in searches[1::2]:
            pair = body["query"]["bool"]["filter"][0]["term"]["route"]
            seconds = RANKED[(pair, body["from"] + 1)]
            answers.append({"hits": {"hits": [{"_source": {"lifetime_seconds": seconds}}]}})
        return {"responses": answers}


async def test_the_cache_aggregates_once_per_ttl() -> None:
    now = [100.0]
    cache = PairLifetimeCache(30.0, clock=lambda: now[0])
    es = FakeEs()
    settings = Settings(elasticsearch_index_prefix="unit-")
    first = await cache.get(es, settings)  # type: ignore[arg-type]
    assert sorted(es.searches) == ["unit-opportunities", "unit-opportunity-episodes"]
    [ranks] = es.msearches
    assert len(ranks) == 8  # 4 ranks, header + body each
    assert first.of("DE:FR").median == 2 * H
    now[0] += 29.9
    assert await cache.get(es, settings) is first  # type: ignore[arg-type]
    assert len(es.searches) == 2
    now[0] += 0.1
    await cache.get(es, settings)  # type: ignore[arg-type]
    assert len(es.searches) == 4


def test_stats_lifetimes_endpoint() -> None:
    client = client_with(FakeEs(), lifetime_cache_s=0)
    body = client.get("/stats/lifetimes").json()
    assert body["until"] == "2026-03-02T20:00:00Z"
    assert [p["market_pair"] for p in body["pairs"]] == ["DE:FR", "DE:IT"]
    assert body["pairs"][0]["median_seconds"] == 7200
    assert body["pairs"][0]["reopen_rate"] == 0.6667
    only = client.get("/stats/lifetimes", params={"pair": "de:it"}).json()
    assert [(p["market_pair"], p["closed"], p["reopened"]) for p in only["pairs"]] == [
        ("DE:IT", 2, 1)
    ]


@pytest.mark.parametrize("pair", ["XX:FR", "DE:DE", "DEFR", "DE:FR:IT"])
def test_stats_lifetimes_refuses_what_is_not_a_pair(pair: str) -> None:
    response = client_with(FakeEs(), lifetime_cache_s=0).get(
        "/stats/lifetimes", params={"pair": pair}
    )
    assert response.status_code == 422, response.text
