"""The watchlist in the real Elasticsearch: store round trip, idempotency, paging, and the
`arbitrage watchlist` CLI (import with bad lines)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from app.domain.watchlist import DEFAULT_MARKETS, WatchlistEntry
from app.es.indices import mapping_for
from app.ingest.watchlist import WatchlistStore
from app.settings import Settings
from devtools.worker_process import ARBITRAGE
from tests.session_resources import Owned, delete_indices

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def wl_settings(es: Elasticsearch, settings: Settings, unique: str) -> Iterator[Settings]:
    yield settings.model_copy(update={"elasticsearch_index_prefix": f"{unique}-"})
    delete_indices(es, Owned.indices_under(f"{unique}-"))


@pytest.fixture
def store(es: Elasticsearch, wl_settings: Settings) -> WatchlistStore:
    return WatchlistStore(es, wl_settings)


def test_empty_store_reads_nothing(store: WatchlistStore) -> None:
    assert store.list() == []
    assert store.all_entries() == []
    assert store.get("B000000001") is None
    assert store.remove(["B000000001"]) == 0


def test_round_trip_with_contract_mapping(store: WatchlistStore, es: Elasticsearch) -> None:
    written = store.add(
        [
            WatchlistEntry("B000000001", ("DE", "FR"), 2, "manual", "a note"),
            WatchlistEntry("b000000002"),
        ],
        now=T0,
    )
    assert written == 2
    mapping = es.indices.get_mapping(index=store.index)[store.index]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert {k: v["type"] for k, v in mapping["properties"].items()} == {
        k: v["type"] for k, v in mapping_for("watchlist")["properties"].items()
    }
    assert store.get("B000000001") == WatchlistEntry(
        "B000000001", ("DE", "FR"), 2, "manual", "a note", T0
    )
    assert store.get("B000000002") == WatchlistEntry("B000000002", DEFAULT_MARKETS, added_at=T0)
    assert [e.asin for e in store.list()] == ["B000000001", "B000000002"]  # priority first
    assert store.count() == 2


def test_add_is_idempotent_and_keeps_added_at(store: WatchlistStore, es: Elasticsearch) -> None:
    store.add([WatchlistEntry("B000000001", ("DE",), 1, note="keep me")], now=T0)
    later = T0 + timedelta(days=1)
    assert store.add([WatchlistEntry("B000000001", ("DE",), 1)], now=later) == 0  # unchanged
    assert store.add([WatchlistEntry("B000000001", ("DE", "GB"), 5)], now=later) == 1
    entry = store.get("B000000001")
    assert entry == WatchlistEntry("B000000001", ("DE", "GB"), 5, "manual", "keep me", T0)
    source = es.get(index=store.index, id="B000000001")["_source"]
    assert source["updated_at"] == "2026-11-21T12:00:00Z"


def test_invalid_asin_is_refused(store: WatchlistStore) -> None:
    with pytest.raises(ValueError, match="invalid ASIN"):
        store.add([WatchlistEntry("NOPE")])


def test_remove(store: WatchlistStore) -> None:
    store.add([WatchlistEntry(f"B00000000{i}") for i in range(3)])
    assert store.remove(["B000000000", "b000000001", "B000000009"]) == 2
    assert [e.asin for e in store.all_entries()] == ["B000000002"]


def test_all_entries_pages_past_one_page(store: WatchlistStore) -> None:
    store.page_size = 7
    asins = [f"B{i:09d}" for i in range(30)]
    assert store.add([WatchlistEntry(a) for a in asins]) == 30
    assert [e.asin for e in store.all_entries()] == asins
    assert len(store.list(limit=10)) == 10


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ELASTICSEARCH_URL": settings.elasticsearch_url,
        "ELASTICSEARCH_INDEX_PREFIX": settings.elasticsearch_index_prefix,
    }
    return subprocess.run(
        [ARBITRAGE, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_import_rejects_bad_lines_and_keeps_good_ones(
    wl_settings: Settings, store: WatchlistStore, tmp_path: Path
) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "asin,markets,priority,note\n"
        "B000000001,DE|FR,2,first\n"
        "B0000001,DE,1,too short\n"
        "B000000002,US,1,bad market\n"
        "b000000003,,0,\n"
        "B000000001,GB,0,duplicate\n"
    )
    result = _cli(wl_settings, "watchlist", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert f"{path}:3: rejected" in result.stderr
    assert f"{path}:4: rejected" in result.stderr
    assert "unknown market US" in result.stderr
    assert f"{path}:6: warning: duplicate of line 2" in result.stderr
    assert "imported 2 ASIN(s)" in result.stdout
    assert "rejected 2 line(s)" in result.stdout
    assert {e.asin: e.markets for e in store.all_entries()} == {
        "B000000001": ("DE", "FR", "GB"),
        "B000000003": DEFAULT_MARKETS,
    }
    assert _cli(wl_settings, "watchlist", "import", "--strict", str(path)).returncode == 1

    only_bad = tmp_path / "bad.txt"
    only_bad.write_text("nope\n")
    failed = _cli(wl_settings, "watchlist", "import", str(only_bad))
    assert failed.returncode == 1
    assert f"{only_bad}:1: rejected" in failed.stderr


def test_cli_add_list_remove(wl_settings: Settings) -> None:
    added = _cli(
        wl_settings, "watchlist", "add", "B000000001", "b000000002", "-m", "DE,GB", "-p", "3"
    )
    assert added.returncode == 0, added.stderr
    listed = _cli(wl_settings, "watchlist", "list", "--json")
    docs = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert [(d["asin"], d["markets"], d["priority"]) for d in docs] == [
        ("B000000001", ["DE", "GB"], 3),
        ("B000000002", ["DE", "GB"], 3),
    ]
    bad = _cli(wl_settings, "watchlist", "add", "SHORT")
    assert bad.returncode == 2
    assert "invalid ASIN" in bad.stderr
    removed = _cli(wl_settings, "watchlist", "remove", "B000000001")
    assert "removed 1" in removed.stdout
