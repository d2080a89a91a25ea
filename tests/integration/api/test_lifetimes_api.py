"""Lifetime figures from a scripted sequence of opened / updated / closed events (event time),
on the real stack: the events are produced to the opportunities topic of a real worker on its
own topics and indices, its sink writes the opportunities and the episodes, and the API
(in-process, real Elasticsearch) answers with the figures computed by hand below.

The script (hours after T0; A, B two ASINs; the pairs DE:FR and DE:IT):

    A DE:FR  opened 0, updated 1, closed 2 (2 h) | opened 3, closed 8 (5 h) | opened 10 (open)
    B DE:FR  opened 1, closed 2 (1 h)                                        (closed now)
    A DE:IT  opened 0, closed 0.5 (30 min) | opened 1, closed 4 (3 h)        (closed now)
    B DE:IT  opened 5, closed 5 h 20 (20 min)                                (closed now)

Newest event time of the index: T0 + 10 h (A DE:FR's reopening) = ``until``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from app.api.config import ApiSettings
from app.api.main import create_app
from app.domain.lifetimes import Episode, summarize
from app.domain.markets import Market
from app.settings import Settings
from tests.integration.drain import wait_worker_drained
from tests.integration.worker_process import (
    FIXED_TIME_DATA,
    WorkerProcess,
    produce,
    started_worker,
    wait_for,
)
from tests.unit.alerts.alert_events import opportunity_event

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
H = timedelta(hours=1)
A, B = "B0LIFETIM1", "B0LIFETIM2"
FR, IT = Market.FR, Market.IT


def event(kind: str, asin: str, sell: Market, opened: float, at: float) -> dict[str, Any]:
    """A real ``arbitrage.opportunities`` event of ``asin`` DE -> ``sell``: the opening at
    ``opened`` hours after T0, this event at ``at`` hours."""
    return opportunity_event(
        kind, asin=asin, sell=sell, first_seen=T0 + opened * H, event_time=T0 + at * H
    )


SCRIPT = [
    event("opened", A, FR, 0, 0),
    event("opened", A, IT, 0, 0),
    event("updated", A, FR, 0, 1),
    event("opened", B, FR, 1, 1),
    event("closed", A, IT, 0, 0.5),
    event("opened", A, IT, 1, 1),
    event("closed", A, FR, 0, 2),
    event("closed", B, FR, 1, 2),
    event("opened", A, FR, 3, 3),
    event("closed", A, IT, 1, 4),
    event("opened", B, IT, 5, 5),
    event("closed", B, IT, 5, 5 + 1 / 3),
    event("closed", A, FR, 3, 8),
    event("opened", A, FR, 10, 10),
]
UNTIL = T0 + 10 * H

#: The same history as the domain sees it.
EPISODES = {
    "DE:FR": [
        Episode(f"{A}:DE:FR", T0, T0 + 2 * H),
        Episode(f"{A}:DE:FR", T0 + 3 * H, T0 + 8 * H),
        Episode(f"{A}:DE:FR", T0 + 10 * H),
        Episode(f"{B}:DE:FR", T0 + H, T0 + 2 * H),
    ],
    "DE:IT": [
        Episode(f"{A}:DE:IT", T0, T0 + 0.5 * H),
        Episode(f"{A}:DE:IT", T0 + H, T0 + 4 * H),
        Episode(f"{B}:DE:IT", T0 + 5 * H, T0 + 5 * H + timedelta(minutes=20)),
    ],
}


def records(events: list[dict[str, Any]]) -> list[tuple[bytes | None, bytes]]:
    return [(e["asin"].encode(), orjson.dumps(e)) for e in events]


def count(es: Elasticsearch, index: str) -> int:
    if not es.indices.exists(index=index):
        return 0
    es.indices.refresh(index=index)
    return int(es.count(index=index)["count"])


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, es: Elasticsearch
) -> Iterator[WorkerProcess]:
    base: Path = tmp_path_factory.mktemp("lifetimes")
    with started_worker("life", base, settings, es, extra_env=FIXED_TIME_DATA) as process:
        s = process.settings

        async def feed() -> None:
            await produce(
                s.kafka_bootstrap_servers, s.topic("arbitrage.opportunities"), records(SCRIPT)
            )
            await wait_worker_drained(process, timeout_s=90)
            await wait_for(
                lambda: count(es, s.index("opportunity-episodes")) >= 6, 30, "6 episodes"
            )

        asyncio.run(feed())
        yield process


@pytest.fixture(scope="module")
def client(worker: WorkerProcess) -> Iterator[TestClient]:
    # No cache: the redelivery test reads the figures again after more events.
    app = create_app(worker.settings, ApiSettings(lifetime_cache_s=0))
    with TestClient(app) as test_client:
        yield test_client


def get(client: TestClient, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def pairs(client: TestClient) -> dict[str, dict[str, Any]]:
    body = get(client, "/stats/lifetimes")
    assert body["until"] == "2026-11-20T16:00:00Z"  # T0 + 10 h
    return {p.pop("market_pair"): p for p in body["pairs"]}


# By hand, per market pair (lifetimes of the closed episodes, ascending):
#   DE:FR  1 h (B), 2 h, 5 h (A): median = rank ceil(0.5 x 3) = 2 -> 2 h = 7200 s,
#          p90 = rank ceil(0.9 x 3) = 3 -> 5 h = 18000 s; 1 open (A since 10 h);
#          reopened = 3 closed - 1 route closed now (B) = 2 -> 2/3 = 0.6667
#   DE:IT  20 min (B), 30 min, 3 h (A): median rank 2 -> 1800 s, p90 rank 3 -> 10800 s;
#          none open; reopened = 3 - 2 routes closed now (A, B) = 1 -> 1/3 = 0.3333
PAIRS = {
    "DE:FR": {
        "episodes": 4,
        "closed": 3,
        "still_open": 1,
        "median_seconds": 7200,
        "p90_seconds": 18000,
        "reopened": 2,
        "reopen_rate": 0.6667,
        "surviving_24h": None,
        "surviving_72h": None,
    },
    "DE:IT": {
        "episodes": 3,
        "closed": 3,
        "still_open": 0,
        "median_seconds": 1800,
        "p90_seconds": 10800,
        "reopened": 1,
        "reopen_rate": 0.3333,
        "surviving_24h": None,
        "surviving_72h": None,
    },
}


def test_market_pair_figures(client: TestClient) -> None:
    assert pairs(client) == PAIRS
    only = get(client, "/stats/lifetimes", pair="de:it")["pairs"]
    assert [p["market_pair"] for p in only] == ["DE:IT"]


@pytest.mark.parametrize("pair", ["DE:FR", "DE:IT"])
def test_the_pair_aggregation_agrees_with_the_domain(client: TestClient, pair: str) -> None:
    expected = summarize(EPISODES[pair], until=UNTIL)
    got = pairs(client)[pair]
    assert (got["episodes"], got["closed"], got["still_open"], got["reopened"]) == (
        expected.episodes,
        expected.closed,
        expected.still_open,
        expected.reopened,
    )
    assert expected.median is not None
    assert expected.p90 is not None
    assert got["median_seconds"] == expected.median.total_seconds()
    assert got["p90_seconds"] == expected.p90.total_seconds()
    assert got["reopen_rate"] == float(str(expected.reopen_rate))


def test_route_figures_in_the_detail(client: TestClient) -> None:
    body = get(client, f"/opportunities/{A}")
    routes = {r["route"]: r for r in body["routes"]}
    fr, it = routes["DE:FR"], routes["DE:IT"]
    # A DE:FR: closed 2 h and 5 h, open since T0 + 10 h (0 s so far at until = T0 + 10 h):
    # median rank ceil(0.5 x 2) = 1 -> 7200, p90 rank ceil(0.9 x 2) = 2 -> 18000; both
    # closings were followed by an opening: 2/2. Kaplan-Meier: the open one (0 s) leaves the
    # risk set first, 1 of 2 closes at 2 h (1/2), the last at 5 h (0); all observed episodes
    # ended before 24 h, so 0 at 24 h and 72 h.
    assert fr["state"] == "open"
    assert fr["open_for_seconds"] is None
    assert fr["lifetime"]["route"] == {
        "episodes": 3,
        "closed": 2,
        "still_open": 1,
        "median_seconds": 7200,
        "p90_seconds": 18000,
        "reopened": 2,
        "reopen_rate": 1.0,
        "surviving_24h": 0.0,
        "surviving_72h": 0.0,
    }
    assert fr["lifetime"]["market_pair"] == PAIRS["DE:FR"]
    # 2 closed on the route (< 3): the pair's 3 closed say it
    assert fr["lifetime"]["usually_lasts"] == (
        "spreads on DE:FR usually last 2 h (median of 3 closed; 90 % closed within 5 h)"
    )
    # A DE:IT: closed 30 min and 3 h, closed now: the first reopened (1/2)
    assert it["state"] == "closed"
    assert it["open_for_seconds"] == 10800
    route = it["lifetime"]["route"]
    assert (route["closed"], route["still_open"], route["reopened"]) == (2, 0, 1)
    assert (route["median_seconds"], route["p90_seconds"], route["reopen_rate"]) == (
        1800,
        10800,
        0.5,
    )
    assert it["lifetime"]["usually_lasts"] == (
        "spreads on DE:IT usually last 30 min (median of 3 closed; 90 % closed within 3 h)"
    )
    expected = _domain(EPISODES["DE:IT"][:2])
    assert {key: route[key] for key in expected} == expected


def _domain(episodes: list[Episode]) -> dict[str, Any]:
    summary = summarize(episodes, until=UNTIL)
    assert summary.median is not None
    assert summary.p90 is not None
    return {
        "episodes": summary.episodes,
        "closed": summary.closed,
        "median_seconds": int(summary.median.total_seconds()),
        "p90_seconds": int(summary.p90.total_seconds()),
    }


def test_a_redelivered_closed_event_makes_no_second_episode(
    client: TestClient, worker: WorkerProcess, es: Elasticsearch
) -> None:
    s = worker.settings
    episodes = s.index("opportunity-episodes")
    before = count(es, episodes)
    assert before == 6
    # The same closings again (a redelivery, a replay): A DE:IT's last and A DE:FR's first,
    # which is older than the route's reopening and must not close the open route either.
    again = [event("closed", A, IT, 1, 4), event("closed", A, FR, 0, 2)]

    async def redeliver() -> None:
        await produce(s.kafka_bootstrap_servers, s.topic("arbitrage.opportunities"), records(again))
        await wait_worker_drained(worker, timeout_s=90)

    asyncio.run(redeliver())
    assert count(es, episodes) == before
    assert pairs(client) == PAIRS
    routes = {r["route"]: r for r in get(client, f"/opportunities/{A}")["routes"]}
    assert routes["DE:FR"]["state"] == "open"
