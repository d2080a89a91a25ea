"""watchlist_discovery: best-seller lists grow the watchlist, deduplicated (real Elasticsearch,
Keepa's /bestsellers faked at the HTTP boundary)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
import responses
from arbitrage_dags.discovery import (
    DISCOVERY_PRIORITY,
    DISCOVERY_SOURCE,
    add_discovered,
    new_entries,
)
from elasticsearch import Elasticsearch

from app.domain.markets import Market
from app.domain.watchlist import DEFAULT_MARKETS, WatchlistEntry
from app.ingest.watchlist import WatchlistStore
from app.settings import Settings
from tests.airflow.airflow_support import run_dag
from tests.unit.keepa.keepa_fakes import API_KEY, BASE_URL, query_of, token_fields

LISTS = {
    (3, "3167641"): ["B0DS000001", "B0DS000002", "B0DS000003", "B0DS000004"],
    (2, "11052681"): ["B0DS000003", "B0DS000005", "B0DS000006"],
}
TARGETS = [
    {"market": "DE", "category": 3167641, "limit": 3},
    {"market": "GB", "category": 11052681},
]


def _bestsellers(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
    query = query_of(request)
    assert query["key"] == API_KEY
    domain, category = int(query["domain"]), query["category"]
    body: dict[str, object] = token_fields(tokens_left=900, tokens_consumed=50)
    body["bestSellersList"] = {
        "domainId": domain,
        "lastUpdate": 7468200,
        "categoryId": int(category),
        "asinList": LISTS[(domain, category)],
    }
    return 200, {}, json.dumps(body)


def test_new_entries_skip_known_and_repeated_asins() -> None:
    found = [
        {"market": "DE", "category": 1, "asins": ["B0DS000001", "b0ds000002"]},
        {"market": "GB", "category": 2, "asins": ["B0DS000002", "B0DS000003"]},
    ]
    entries = new_entries(found, existing=["B0DS000003"])
    assert [e.asin for e in entries] == ["B0DS000001", "B0DS000002"]
    assert {e.source for e in entries} == {DISCOVERY_SOURCE}
    assert {e.priority for e in entries} == {DISCOVERY_PRIORITY}
    assert entries[1].note == "best seller DE/1"


@pytest.mark.integration
def test_discovery_adds_only_new_best_sellers(
    isolated: Settings, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = isolated
    monkeypatch.setenv("KEEPA_DISCOVERY_TARGETS", json.dumps(TARGETS))
    store = WatchlistStore(es, settings)
    store.add([WatchlistEntry("B0DS000002", markets=("DE", "FR"), priority=7, note="mine")])

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{BASE_URL}/bestsellers", callback=_bestsellers)
        dag_run, states = run_dag("watchlist_discovery")
        domains = sorted(query_of(c.request)["domain"] for c in rsps.calls)

    assert str(dag_run.state) == "success", states
    assert {k for k in states if k.startswith("discover[")} == {"discover[0]", "discover[1]"}
    assert domains == sorted(str(Market(t["market"]).keepa_domain_id) for t in TARGETS)

    entries = {e.asin: e for e in store.all_entries()}
    # DE limited to its first 3; B0DS000003 is on both lists; B0DS000002 was there already.
    assert set(entries) == {f"B0DS00000{i}" for i in (1, 2, 3, 5, 6)}
    mine = entries["B0DS000002"]
    assert (mine.priority, mine.source, mine.note) == (7, "manual", "mine")
    assert mine.markets == ("DE", "FR")
    for asin in ("B0DS000001", "B0DS000003", "B0DS000005", "B0DS000006"):
        assert entries[asin].source == DISCOVERY_SOURCE
        assert entries[asin].priority == DISCOVERY_PRIORITY
        assert entries[asin].markets == DEFAULT_MARKETS
    assert entries["B0DS000003"].note == "best seller DE/3167641"

    # Discovering the same lists again adds nothing and changes nothing.
    found = [
        {
            "market": t["market"],
            "category": t["category"],
            "asins": LISTS[key][: int(t.get("limit", 100))],
        }
        for t, key in zip(TARGETS, LISTS, strict=True)
    ]
    counts = add_discovered(found, es, settings, now=datetime.now(UTC))
    assert counts == {"targets": 2, "found": 5, "already_watched": 5, "added": 0}
    assert {e.asin: e for e in store.all_entries()} == entries
