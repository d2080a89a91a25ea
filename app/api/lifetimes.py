"""Lifetime history in the API: how long past spreads of a route and of a market pair lasted
(docs/signals.md, "Lifetime history").

* **A route of an ASIN** (exact): its closed episodes (``opportunity-episodes``, newest
  :data:`app.api.queries.EPISODES_PER_ROUTE`) plus its opening in progress (the
  ``opportunities`` document, when open) go through :func:`app.domain.lifetimes.summarize`.
* **A market pair** (every ASIN): one aggregation per index for all pairs
  (:func:`app.api.queries.pair_lifetimes_search`, :func:`app.api.queries.pair_states_search`),
  and one ``msearch`` reading the nearest-rank median / p90 of each pair exactly (the episode
  at rank ``ceil(p x n)`` of the pair's lifetimes sorted ascending, :func:`pair_ranks`; beyond
  rank 10,000 an HDR histogram's value, within 0.1 %), turned into summaries by
  :func:`pair_lifetimes`; reused for :attr:`PairLifetimeCache.ttl_s` seconds by the API
  process. The reopen rate is exact: ``reopened = closed episodes - routes closed now that
  have an episode`` (the last episode of a route closed now is the only closed episode not
  followed by an opening). The share surviving 24 h / 72 h is not computed for a pair (it
  needs every lifetime; ``arbitrage backtest`` reports it).

``until`` (how long an open episode has lasted so far) is the newest event time known: the
newest ``event_time`` of the ``opportunities`` index, or the route's own ``last_seen`` or
last closing when later. Not the wall clock: replayed or demo data give the same figures
whenever they are read.

The shaping functions are pure; :class:`PairLifetimeCache` and :func:`route_lifetimes` do the
Elasticsearch requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Final

from elasticsearch import AsyncElasticsearch

from app.api.converters import parse_time
from app.api.models import LifetimeFigures, PairLifetime, RouteLifetime
from app.api.queries import (
    EXACT_RANK_WINDOW,
    pair_lifetimes_search,
    pair_rank_body,
    pair_states_search,
    route_episodes_body,
)
from app.domain.lifetimes import (
    DEFAULT_HORIZONS,
    MEDIAN,
    MIN_CLOSED_FOR_USUAL,
    P90,
    Episode,
    LifetimeSummary,
    nearest_rank_position,
    reopen_rate,
    summarize,
    usually_lasts,
)
from app.es.documents import opportunity_id
from app.es.indices import OPPORTUNITIES, OPPORTUNITY_EPISODES
from app.settings import Settings

__all__ = [
    "NO_EPISODES",
    "PairLifetimeCache",
    "PairLifetimes",
    "lifetime_figures",
    "pair_lifetime",
    "pair_lifetimes",
    "pair_ranks",
    "route_lifetime",
    "route_lifetimes",
    "route_summary",
    "usually_lasts_text",
]

logger = logging.getLogger(__name__)

_HOURS_24, _HOURS_72 = timedelta(hours=24), timedelta(hours=72)
#: Each percentile of a pair: its share and its key in the HDR ``percentiles`` answer.
_PERCENTILES: Final = ((MEDIAN, "50.0"), (P90, "90.0"))

#: ``(market pair, share)`` -> the exact nearest-rank lifetime in seconds.
ExactRanks = Mapping[tuple[str, Fraction], int]

#: The summary of a route or pair without any episode.
NO_EPISODES: Final = LifetimeSummary(
    episodes=0,
    closed=0,
    still_open=0,
    median=None,
    p90=None,
    reopened=0,
    reopen_rate=None,
    surviving={h: None for h in DEFAULT_HORIZONS},
)


@dataclass(frozen=True, slots=True)
class PairLifetimes:
    """Every market pair's summary, and the newest event time of the ``opportunities``."""

    until: datetime | None
    summaries: Mapping[str, LifetimeSummary] = field(default_factory=dict)

    def of(self, pair: str) -> LifetimeSummary:
        return self.summaries.get(pair, NO_EPISODES)


def _buckets(response: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    buckets = response.get("aggregations", {}).get("pairs", {}).get("buckets", [])
    return {str(bucket["key"]): bucket for bucket in buckets}


def _seconds(value: object) -> timedelta | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return timedelta(seconds=round(value))


def pair_ranks(episodes_response: Mapping[str, Any]) -> list[tuple[str, Fraction, int]]:
    """``(pair, share, rank)`` of each percentile to read exactly (rank within
    :data:`~app.api.queries.EXACT_RANK_WINDOW`), from the response of
    :func:`~app.api.queries.pair_lifetimes_search`."""
    found = []
    for pair, bucket in sorted(_buckets(episodes_response).items()):
        closed = int(bucket.get("doc_count", 0))
        for share, _ in _PERCENTILES:
            if closed and (rank := nearest_rank_position(closed, share)) <= EXACT_RANK_WINDOW:
                found.append((pair, share, rank))
    return found


def pair_lifetimes(
    episodes_response: Mapping[str, Any],
    states_response: Mapping[str, Any],
    exact: ExactRanks,
) -> PairLifetimes:
    """The summaries of every market pair from the responses of
    :func:`~app.api.queries.pair_lifetimes_search` (on ``opportunity-episodes``) and
    :func:`~app.api.queries.pair_states_search` (on ``opportunities``), with the ``exact``
    nearest-rank lifetimes read for :func:`pair_ranks` (else the HDR estimate)."""
    lifetimes, states = _buckets(episodes_response), _buckets(states_response)
    summaries: dict[str, LifetimeSummary] = {}
    for pair in sorted(set(lifetimes) | set(states)):
        bucket, state = lifetimes.get(pair, {}), states.get(pair, {})
        closed = int(bucket.get("doc_count", 0))
        still_open = int(state.get("open", {}).get("doc_count", 0))
        closed_last = int(state.get("closed_last", {}).get("doc_count", 0))
        values = bucket.get("lifetimes", {}).get("values", {}) if closed else {}
        median, p90 = (
            _seconds(exact.get((pair, share), values.get(key))) for share, key in _PERCENTILES
        )
        if not closed + still_open:
            continue  # only routes closed before episodes were written: no history
        # Never negative, even if a route's closed document was written without its episode.
        reopened = max(0, closed - closed_last)
        summaries[pair] = LifetimeSummary(
            episodes=closed + still_open,
            closed=closed,
            still_open=still_open,
            median=median,
            p90=p90,
            reopened=reopened,
            reopen_rate=reopen_rate(reopened, closed),
            surviving={h: None for h in DEFAULT_HORIZONS},
        )
    newest = states_response.get("aggregations", {}).get("newest", {})
    return PairLifetimes(parse_time(newest.get("value_as_string")), summaries)


def route_summary(
    source: Mapping[str, Any], hits: Iterable[Mapping[str, Any]], until: datetime | None
) -> LifetimeSummary:
    """The summary of one route of an ASIN: its ``opportunities`` document ``source`` (an
    open one is the episode in progress) and the ``_source`` of its episode ``hits``;
    observed until the latest of ``until``, the route's ``last_seen`` and its last closing."""
    route_id = opportunity_id(source["asin"], source["buy_market"], source["sell_market"])
    episodes: list[Episode] = []
    for hit in hits:
        opened_at, closed_at = parse_time(hit.get("opened_at")), parse_time(hit.get("closed_at"))
        if opened_at is not None and closed_at is not None:
            episodes.append(Episode(route_id, opened_at, closed_at))
    first_seen = parse_time(source.get("first_seen"))
    if source.get("state") == "open" and first_seen is not None:
        episodes.append(Episode(route_id, first_seen))
    ends = [until, parse_time(source.get("last_seen")), first_seen]
    ends += [episode.closed_at for episode in episodes]
    known = [end for end in ends if end is not None]
    if not known:
        return NO_EPISODES
    return summarize(episodes, until=max(known))


def _rate(value: object) -> float | None:
    return None if value is None else float(str(value))


def lifetime_figures(summary: LifetimeSummary) -> LifetimeFigures:
    """A summary as JSON: seconds as ints (floor), rates as numbers (like ``roi``)."""
    return LifetimeFigures(
        episodes=summary.episodes,
        closed=summary.closed,
        still_open=summary.still_open,
        median_seconds=None if summary.median is None else int(summary.median.total_seconds()),
        p90_seconds=None if summary.p90 is None else int(summary.p90.total_seconds()),
        reopened=summary.reopened,
        reopen_rate=_rate(summary.reopen_rate),
        surviving_24h=_rate(summary.surviving.get(_HOURS_24)),
        surviving_72h=_rate(summary.surviving.get(_HOURS_72)),
    )


def pair_lifetime(pair: str, summary: LifetimeSummary) -> PairLifetime:
    return PairLifetime(market_pair=pair, **lifetime_figures(summary).model_dump())


def usually_lasts_text(
    route: LifetimeSummary, pair_summary: LifetimeSummary, pair: str
) -> str | None:
    """``spreads on this route usually last ...`` from the route's history when it has at
    least :data:`MIN_CLOSED_FOR_USUAL` closed episodes, else ``spreads on DE:FR usually
    last ...`` from the pair's; ``None`` when neither has enough."""
    if route.closed >= MIN_CLOSED_FOR_USUAL and (text := usually_lasts(route)) is not None:
        return f"spreads on this route {text}"
    if (text := usually_lasts(pair_summary)) is not None:
        return f"spreads on {pair} {text}"
    return None


def route_lifetime(
    route: LifetimeSummary, pair_summary: LifetimeSummary, pair: str
) -> RouteLifetime:
    return RouteLifetime(
        route=lifetime_figures(route),
        market_pair=lifetime_figures(pair_summary),
        usually_lasts=usually_lasts_text(route, pair_summary, pair),
    )


class PairLifetimeCache:
    """Every pair's summary, aggregated at most once per ``ttl_s`` seconds (0: every call);
    concurrent callers share one aggregation."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._value: PairLifetimes | None = None
        self._at = 0.0

    async def get(self, es: AsyncElasticsearch, settings: Settings) -> PairLifetimes:
        async with self._lock:
            now = self._clock()
            if self._value is None or now - self._at >= self.ttl_s:
                self._value = await _aggregate_pairs(es, settings)
                self._at = now
            return self._value


async def _aggregate_pairs(es: AsyncElasticsearch, settings: Settings) -> PairLifetimes:
    episodes, states = await asyncio.gather(
        es.search(
            index=settings.index(OPPORTUNITY_EPISODES),
            ignore_unavailable=True,
            **pair_lifetimes_search(),
        ),
        es.search(
            index=settings.index(OPPORTUNITIES), ignore_unavailable=True, **pair_states_search()
        ),
    )
    ranks = pair_ranks(episodes.body)
    exact: dict[tuple[str, Fraction], int] = {}
    if ranks:
        index = settings.index(OPPORTUNITY_EPISODES)
        searches: list[Mapping[str, Any]] = []
        for pair, _, rank in ranks:
            searches += [{"index": index, "ignore_unavailable": True}, pair_rank_body(pair, rank)]
        response = await es.msearch(searches=searches)
        for (pair, share, _), answer in zip(ranks, response["responses"], strict=True):
            hits = answer.get("hits", {}).get("hits", [])
            if hits:  # else (an error, a changed index): the HDR estimate stands
                exact[(pair, share)] = int(hits[0]["_source"]["lifetime_seconds"])
    return pair_lifetimes(episodes.body, states.body, exact)


async def route_lifetimes(
    es: AsyncElasticsearch,
    settings: Settings,
    cache: PairLifetimeCache,
    sources: Sequence[Mapping[str, Any]],
) -> list[RouteLifetime | None]:
    """The lifetime of each route (``opportunities`` documents ``sources``): one ``msearch``
    for their episodes, the pairs from ``cache``. ``None`` for a route whose search failed
    (logged; the rest of the detail is still served)."""
    if not sources:
        return []
    pairs = await cache.get(es, settings)
    searches: list[Mapping[str, Any]] = []
    index = settings.index(OPPORTUNITY_EPISODES)
    for source in sources:
        route_id = opportunity_id(source["asin"], source["buy_market"], source["sell_market"])
        searches += [{"index": index, "ignore_unavailable": True}, route_episodes_body(route_id)]
    response = await es.msearch(searches=searches)
    result: list[RouteLifetime | None] = []
    for source, answer in zip(sources, response["responses"], strict=True):
        if "error" in answer:
            logger.warning(
                "episodes of %s %s: %s", source["asin"], source["route"], answer["error"]
            )
            result.append(None)
            continue
        hits = [hit["_source"] for hit in answer["hits"]["hits"]]
        pair = f"{source['buy_market']}:{source['sell_market']}"
        result.append(
            route_lifetime(route_summary(source, hits, pairs.until), pairs.of(pair), pair)
        )
    return result
