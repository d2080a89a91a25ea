"""The API's async watchlist writes, with a fake Elasticsearch: create, update, unchanged,
a create that loses a race, and refused writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.api.watchlist import AsyncWatchlist
from app.domain.markets import Market
from app.es.watchlist import WatchlistWriteError
from app.settings import Settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SETTINGS = Settings(elasticsearch_index_prefix="u-")


class FakeIndices:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    async def exists(self, *, index: str) -> bool:
        return bool(self.created)

    async def create(self, **kwargs: Any) -> None:
        self.created.append(kwargs)


class FakeEs:
    """Documents in a dict; ``race`` ASINs appear just before their ``create`` runs."""

    def __init__(
        self,
        docs: dict[str, dict[str, Any]] | None = None,
        race: set[str] | None = None,
        refuse: bool = False,
    ) -> None:
        self.docs = dict(docs or {})
        self.race = set(race or ())
        self.refuse = refuse
        self.indices = FakeIndices()
        self.bulks: list[list[dict[str, Any]]] = []

    async def mget(self, *, index: str, ids: list[str]) -> dict[str, Any]:
        return {
            "docs": [{"_id": i, "found": i in self.docs, "_source": self.docs.get(i)} for i in ids]
        }

    async def bulk(self, *, operations: list[dict[str, Any]], refresh: bool) -> dict[str, Any]:
        self.bulks.append(operations)
        items = []
        for action, body in zip(operations[::2], operations[1::2], strict=True):
            ((op, meta),) = action.items()
            asin = meta["_id"]
            if self.refuse:
                items.append(
                    {
                        op: {
                            "_id": asin,
                            "status": 400,
                            "error": {"type": "mapper_parsing_exception", "reason": "bad"},
                        }
                    }
                )
            elif op == "create" and (asin in self.docs or asin in self.race):
                self.race.discard(asin)
                self.docs[asin] = {
                    "asin": asin,
                    "markets": ["DE"],
                    "priority": 0,
                    "source": "manual",
                    "added_at": "2026-01-01T00:00:00Z",
                }
                items.append({op: {"_id": asin, "status": 409}})
            elif op == "create":
                self.docs[asin] = body
                items.append({op: {"_id": asin, "status": 201}})
            else:
                self.docs[asin] = {**self.docs[asin], **body["doc"]}
                items.append({op: {"_id": asin, "status": 200}})
        return {"errors": any(i[next(iter(i))]["status"] >= 300 for i in items), "items": items}


async def upsert(es: FakeEs, asins: list[str], priority: int = 1, note: str | None = None) -> Any:
    store = AsyncWatchlist(es, SETTINGS)  # type: ignore[arg-type]
    return await store.upsert(asins, [Market.DE, Market.FR], priority, note, NOW)


async def test_create_then_unchanged_then_update() -> None:
    es = FakeEs()
    first = await upsert(es, ["B0000000A1"])
    assert (first.created, first.updated, first.unchanged) == (["B0000000A1"], [], [])
    assert es.indices.created[0]["index"] == "u-watchlist"  # created with the contract mapping
    assert es.indices.created[0]["mappings"]["dynamic"] == "strict"
    assert es.docs["B0000000A1"] == {
        "asin": "B0000000A1",
        "markets": ["DE", "FR"],
        "priority": 1,
        "source": "api",
        "note": None,
        "added_at": "2026-11-25T12:00:00Z",
        "updated_at": "2026-11-25T12:00:00Z",
    }
    again = await upsert(es, ["B0000000A1"])
    assert again.unchanged == ["B0000000A1"]
    assert len(es.bulks) == 1  # nothing rewritten
    changed = await upsert(es, ["B0000000A1"], priority=5, note="n")
    assert changed.updated == ["B0000000A1"]
    assert es.bulks[-1][1] == {
        "doc": {"priority": 5, "note": "n", "updated_at": "2026-11-25T12:00:00Z"}
    }


async def test_a_lost_create_race_becomes_an_update() -> None:
    es = FakeEs(race={"B0000000A1"})
    result = await upsert(es, ["B0000000A1"])
    assert result.updated == ["B0000000A1"]
    assert es.docs["B0000000A1"]["added_at"] == "2026-01-01T00:00:00Z"  # the winner's
    assert es.docs["B0000000A1"]["markets"] == ["DE", "FR"]


async def test_refused_writes_raise_with_the_reason() -> None:
    with pytest.raises(WatchlistWriteError, match="mapper_parsing_exception"):
        await upsert(FakeEs(refuse=True), ["B0000000A1"])
