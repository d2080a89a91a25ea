"""The ``watchlist`` index: document id and shape, and the write rules (pure, no I/O).

One document per ASIN, id = the ASIN::

    {"asin", "markets", "priority", "source", "note", "added_at", "updated_at"}

(mapping: :mod:`app.es.indices`). Both writers, the sync
:class:`app.ingest.watchlist.WatchlistStore` (CLI, Airflow) and the API's async
:class:`app.api.watchlist.AsyncWatchlist`, read the stored documents of the ASINs they write
(``mget``), send the bulk request :func:`plan_writes` builds and read its response with
:meth:`WatchlistPlan.applied`, so they apply the same rules:

* an ASIN not stored yet is created (``create``: a concurrent create of the same ASIN makes
  one of them fail with 409, and that one is planned again, against the winner's document);
* a stored ASIN keeps its ``added_at``; its other fields take the new values, except that no
  note (``None``) keeps the stored note; only the changed fields are written, with
  ``updated_at``; an unchanged entry is not rewritten.

No scripts are used (the local Elasticsearch has no Painless).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from app.domain.utc import format_utc, parse_utc
from app.domain.watchlist import DEFAULT_MARKETS, WatchlistEntry

__all__ = [
    "WatchlistPlan",
    "WatchlistWrite",
    "WatchlistWriteError",
    "entry_from_document",
    "plan_writes",
    "watchlist_document",
]


class BulkResponse(Protocol):
    """A bulk response: a mapping, or the client's ``ObjectApiResponse`` (item access)."""

    def __getitem__(self, key: str) -> Any: ...


class WatchlistWriteError(RuntimeError):
    """Elasticsearch refused some writes (the others were applied; a retry is idempotent)."""


def watchlist_document(entry: WatchlistEntry, *, now: datetime) -> dict[str, Any]:
    """The document of a new entry; ``added_at`` is the entry's, else ``now``."""
    when = format_utc(now)
    return {
        "asin": entry.asin,
        "markets": list(entry.markets),
        "priority": entry.priority,
        "source": entry.source,
        "note": entry.note,
        "added_at": format_utc(entry.added_at) if entry.added_at is not None else when,
        "updated_at": when,
    }


def entry_from_document(source: Mapping[str, Any]) -> WatchlistEntry:
    """The entry a stored document holds."""
    added = source.get("added_at")
    return WatchlistEntry(
        asin=source["asin"],
        markets=tuple(source.get("markets") or DEFAULT_MARKETS),
        priority=int(source.get("priority") or 0),
        source=str(source.get("source") or "manual"),
        note=source.get("note"),
        added_at=parse_utc(added) if added else None,
    )


def _changes(current: Mapping[str, Any], entry: WatchlistEntry) -> dict[str, Any]:
    """The fields of ``entry`` that differ from the stored document (``added_at`` never)."""
    wanted: dict[str, Any] = {
        "markets": list(entry.markets),
        "priority": entry.priority,
        "source": entry.source,
    }
    if entry.note is not None:
        wanted["note"] = entry.note
    return {key: value for key, value in wanted.items() if current.get(key) != value}


@dataclass(frozen=True, slots=True)
class WatchlistWrite:
    """What a write did: the ASINs created, updated (changed) and left unchanged."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    @property
    def written(self) -> int:
        """ASINs created or changed."""
        return len(self.created) + len(self.updated)

    def then(self, retry: WatchlistWrite) -> WatchlistWrite:
        """This write followed by the retry of its lost create races (the ASINs existed by
        then, so what the retry created or updated counts as updated)."""
        return WatchlistWrite(
            self.created,
            self.updated + retry.created + retry.updated,
            self.unchanged + retry.unchanged,
        )


@dataclass(frozen=True, slots=True)
class WatchlistPlan:
    """The bulk request that brings the stored documents to the wanted entries."""

    entries: Mapping[str, WatchlistEntry]
    """The wanted entries by ASIN."""
    operations: list[dict[str, Any]]
    """Bulk operations (action and source lines); empty when nothing changes."""
    unchanged: tuple[str, ...]

    def applied(self, response: BulkResponse) -> tuple[WatchlistWrite, list[WatchlistEntry]]:
        """What the bulk ``response`` wrote, and the entries whose create lost a race (plan
        them again). :class:`WatchlistWriteError` names every refused write."""
        created: list[str] = []
        updated: list[str] = []
        raced: list[WatchlistEntry] = []
        failures: list[str] = []
        for item in response["items"]:
            ((op, result),) = item.items()
            asin = str(result.get("_id"))
            status = int(result.get("status", 500))
            if status < 300:
                (created if op == "create" else updated).append(asin)
            elif op == "create" and status == 409:
                raced.append(self.entries[asin])
            else:
                failures.append(f"{op} {asin}: {_reason(result)}")
        if failures:
            raise WatchlistWriteError(
                f"Elasticsearch refused {len(failures)} watchlist write(s): {'; '.join(failures)}"
            )
        return WatchlistWrite(tuple(created), tuple(updated), self.unchanged), raced


def plan_writes(
    index: str,
    entries: Iterable[WatchlistEntry],
    stored: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> WatchlistPlan:
    """The plan for writing normalised ``entries`` (one per ASIN, see
    :meth:`WatchlistEntry.normalised`) to ``index``, given the ``stored`` documents by ASIN."""
    wanted = {entry.asin: entry for entry in entries}
    when = format_utc(now)
    operations: list[dict[str, Any]] = []
    unchanged: list[str] = []
    for asin, entry in wanted.items():
        current = stored.get(asin)
        if current is None:
            operations += [
                {"create": {"_index": index, "_id": asin}},
                watchlist_document(entry, now=now),
            ]
            continue
        changes = _changes(current, entry)
        if not changes:
            unchanged.append(asin)
            continue
        operations += [
            {"update": {"_index": index, "_id": asin}},
            {"doc": {**changes, "updated_at": when}},
        ]
    return WatchlistPlan(wanted, operations, tuple(unchanged))


def _reason(result: Mapping[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, Mapping):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error or result.get("status"))
