"""The watchlist index's document shape and write plan (shared by the CLI/Airflow store and
the API)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.watchlist import WatchlistEntry
from app.es.watchlist import (
    WatchlistWrite,
    WatchlistWriteError,
    entry_from_document,
    plan_writes,
    watchlist_document,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1, microseconds=500)
STORED = {
    "asin": "B000000001",
    "markets": ["DE", "FR"],
    "priority": 2,
    "source": "manual",
    "note": "keep me",
    "added_at": "2026-11-20T12:00:00Z",
    "updated_at": "2026-11-20T12:00:00Z",
}


def test_document_of_a_new_entry() -> None:
    entry = WatchlistEntry("B000000001", ("DE", "FR"), 2, "manual", "keep me")
    assert watchlist_document(entry, now=T0) == STORED
    dated = WatchlistEntry("B000000001", ("GB",), added_at=T0 - timedelta(days=3))
    document = watchlist_document(dated, now=T0)
    assert (document["added_at"], document["updated_at"]) == (
        "2026-11-17T12:00:00Z", "2026-11-20T12:00:00Z",
    )  # fmt: skip


def test_entry_from_document_round_trip() -> None:
    assert entry_from_document(STORED) == WatchlistEntry(
        "B000000001", ("DE", "FR"), 2, "manual", "keep me", T0
    )
    sparse = entry_from_document({"asin": "B000000002"})
    assert sparse == WatchlistEntry("B000000002", ("DE", "FR", "IT", "ES", "GB"))


def test_plan_creates_updates_changed_fields_and_skips_unchanged() -> None:
    entries = [
        WatchlistEntry("B000000001", ("DE", "FR"), 2, "manual"),  # no note: keeps "keep me"
        WatchlistEntry("B000000002", ("GB",), 5, "manual", "new note"),
        WatchlistEntry("B000000003", ("IT",), 0, "api"),
    ]
    stored = {
        "B000000001": STORED,
        "B000000002": {**STORED, "asin": "B000000002"},
    }
    plan = plan_writes("p-watchlist", entries, stored, LATER)
    assert plan.unchanged == ("B000000001",)
    assert plan.operations == [
        {"update": {"_index": "p-watchlist", "_id": "B000000002"}},
        {
            "doc": {
                "markets": ["GB"],
                "priority": 5,
                "note": "new note",
                "updated_at": "2026-11-21T12:00:00.000500Z",
            }
        },
        {"create": {"_index": "p-watchlist", "_id": "B000000003"}},
        {
            "asin": "B000000003",
            "markets": ["IT"],
            "priority": 0,
            "source": "api",
            "note": None,
            "added_at": "2026-11-21T12:00:00.000500Z",
            "updated_at": "2026-11-21T12:00:00.000500Z",
        },
    ]


def _item(op: str, asin: str, status: int, error: Any = None) -> dict[str, Any]:
    result: dict[str, Any] = {"_id": asin, "status": status}
    if error is not None:
        result["error"] = error
    return {op: result}


def test_applied_reads_created_updated_and_lost_races() -> None:
    raced = WatchlistEntry("B000000003", ("IT",))
    entries = [WatchlistEntry("B000000001"), WatchlistEntry("B000000002"), raced]
    plan = plan_writes("w", entries, {"B000000002": {"asin": "B000000002"}}, T0)
    response = {
        "items": [
            _item("create", "B000000001", 201),
            _item("update", "B000000002", 200),
            _item("create", "B000000003", 409),
        ]
    }
    done, again = plan.applied(response)
    assert done == WatchlistWrite(created=("B000000001",), updated=("B000000002",))
    assert again == [raced]
    assert done.written == 2
    retry = WatchlistWrite(updated=("B000000003",))
    assert done.then(retry) == WatchlistWrite(
        created=("B000000001",), updated=("B000000002", "B000000003")
    )
    assert done.then(WatchlistWrite(unchanged=("B000000003",))).unchanged == ("B000000003",)


def test_applied_raises_naming_every_refused_write() -> None:
    plan = plan_writes("w", [WatchlistEntry("B000000001"), WatchlistEntry("B000000002")], {}, T0)
    response = {
        "items": [
            _item("create", "B000000001", 400, {"type": "mapper_parsing_exception", "reason": "x"}),
            _item("create", "B000000002", 429, "too many requests"),
        ]
    }
    with pytest.raises(WatchlistWriteError) as caught:
        plan.applied(response)
    assert str(caught.value) == (
        "Elasticsearch refused 2 watchlist write(s): create B000000001: "
        "mapper_parsing_exception: x; create B000000002: too many requests"
    )
