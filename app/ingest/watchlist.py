"""The watchlist: the ASINs to track, with their markets and priority.

:func:`parse_watchlist` (pure) reads a watchlist file, in one of two formats:

* **plain text**: one ASIN a line; blank lines and ``#`` comments (whole-line or trailing)
  are ignored; every ASIN gets all five markets and priority 0;
* **CSV**: the first non-comment line is a header containing an ``asin`` column, and
  optionally ``markets`` (``DE|FR``, ``DE FR`` or ``DE;FR``; empty = all five),
  ``priority`` (0-10) and ``note``; other columns are ignored. The delimiter is ``,``,
  ``;`` or a tab, whichever the header uses.

An ASIN is 10 characters ``A-Z0-9`` after trimming; lower-case input is upper-cased.
Markets must be ``DE``, ``FR``, ``IT``, ``ES`` or ``GB``. A repeated ASIN is merged into
its first occurrence (union of markets, highest priority, first note) and reported as a
warning, not an error.

:class:`WatchlistStore` keeps the watchlist in Elasticsearch (index
``settings.index("watchlist")``, one document per ASIN, id = ASIN).
"""

from __future__ import annotations

import builtins
import csv
import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from app.domain.envelope import is_valid_asin
from app.domain.utc import format_utc, parse_utc
from app.es.indices import WATCHLIST, index_settings, mapping_for
from app.settings import Settings

__all__ = [
    "DEFAULT_MARKETS",
    "MAX_PRIORITY",
    "LineError",
    "WatchlistEntry",
    "WatchlistParse",
    "WatchlistStore",
    "parse_watchlist",
    "parse_watchlist_report",
]

logger = logging.getLogger(__name__)

#: The five tracked markets, in canonical order.
DEFAULT_MARKETS: Final[tuple[str, ...]] = ("DE", "FR", "IT", "ES", "GB")
MAX_PRIORITY: Final = 10
_MARKET_ORDER: Final = {m: i for i, m in enumerate(DEFAULT_MARKETS)}
_CSV_COLUMNS: Final = ("asin", "markets", "priority", "note")


@dataclass
class WatchlistEntry:
    """One tracked ASIN. ``priority`` 0-10 shortens its refresh interval (docs/scheduling.md)."""

    asin: str
    markets: tuple[str, ...] = DEFAULT_MARKETS
    priority: int = 0
    source: str = "manual"
    note: str | None = None
    added_at: datetime | None = None


@dataclass
class LineError:
    """A rejected (or, as a warning, merged) line of a watchlist file; ``line`` is 1-based."""

    line: int
    text: str
    reason: str


@dataclass
class WatchlistParse:
    """Everything :func:`parse_watchlist_report` found."""

    entries: list[WatchlistEntry] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    warnings: list[LineError] = field(default_factory=list)


# --- parsing (pure) ------------------------------------------------------------------------


def parse_watchlist(text: str) -> tuple[list[WatchlistEntry], list[LineError]]:
    """The valid entries and the rejected lines of a watchlist file (see the module doc)."""
    result = parse_watchlist_report(text)
    return result.entries, result.errors


def parse_watchlist_report(text: str, *, source: str = "import") -> WatchlistParse:
    """Like :func:`parse_watchlist`, with the duplicate warnings; entries get ``source``."""
    lines = text.removeprefix("\ufeff").splitlines()
    header_at = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")),
        None,
    )
    result = WatchlistParse()
    if header_at is None:
        return result
    delimiter = _csv_delimiter(lines[header_at])
    if delimiter is None:
        rows: Iterable[tuple[int, str, dict[str, str]]] = _text_rows(lines)
    else:
        columns = [c.strip().lower() for c in _split_csv(lines[header_at], delimiter)]
        rows = _csv_rows(lines, header_at, columns, delimiter)
    first_line: dict[str, int] = {}
    by_asin: dict[str, WatchlistEntry] = {}
    for number, raw, row in rows:
        entry = _entry(row, source)
        if isinstance(entry, str):
            result.errors.append(LineError(number, raw, entry))
            continue
        held = by_asin.get(entry.asin)
        if held is None:
            by_asin[entry.asin] = entry
            first_line[entry.asin] = number
            continue
        by_asin[entry.asin] = _merge(held, entry)
        result.warnings.append(
            LineError(number, raw, f"duplicate of line {first_line[entry.asin]}; merged")
        )
    result.entries = list(by_asin.values())
    return result


def normalise_markets(value: str | Sequence[str]) -> tuple[str, ...]:
    """Market codes from ``"DE|FR"``, ``"DE FR"``, ``"de,fr"`` or a sequence, in canonical
    order without duplicates; empty means all five. ``ValueError`` names an unknown code."""
    if isinstance(value, str):
        for separator in "|,;":
            value = value.replace(separator, " ")
        codes = value.split()
    else:
        codes = [c.strip() for c in value if c.strip()]
    if not codes:
        return DEFAULT_MARKETS
    upper = {c.upper() for c in codes}
    unknown = sorted(c for c in upper if c not in _MARKET_ORDER)
    if unknown:
        raise ValueError(
            f"unknown market {', '.join(unknown)} (expected {'|'.join(DEFAULT_MARKETS)})"
        )
    return tuple(sorted(upper, key=_MARKET_ORDER.__getitem__))


def _csv_delimiter(header: str) -> str | None:
    """The delimiter of a CSV header line, or None for a plain-text file."""
    for delimiter in (",", ";", "\t"):
        cells = [c.strip().lower() for c in _split_csv(header, delimiter)]
        if "asin" in cells and (len(cells) > 1 or header.strip().lower() == "asin"):
            return delimiter
    return None


def _split_csv(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _text_rows(lines: Sequence[str]) -> Iterator[tuple[int, str, dict[str, str]]]:
    for number, raw in enumerate(lines, start=1):
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        if len(content.split()) > 1 or any(c in content for c in ",;\t"):
            yield number, raw, {"__error__": "expected one ASIN per line"}
            continue
        yield number, raw, {"asin": content}


def _csv_rows(
    lines: Sequence[str], header_at: int, columns: list[str], delimiter: str
) -> Iterator[tuple[int, str, dict[str, str]]]:
    for number in range(header_at + 2, len(lines) + 1):
        raw = lines[number - 1]
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            cells = next(csv.reader(io.StringIO(raw), delimiter=delimiter, strict=True), [])
        except csv.Error as exc:
            yield number, raw, {"__error__": f"malformed CSV: {exc}"}
            continue
        if len(cells) > len(columns):
            yield number, raw, {"__error__": f"{len(cells)} fields, the header has {len(columns)}"}
            continue
        row = {
            column: cell.strip()
            for column, cell in zip(columns, cells, strict=False)
            if column in _CSV_COLUMNS
        }
        yield number, raw, row


def _entry(row: dict[str, str], source: str) -> WatchlistEntry | str:
    """The entry of a row, or the reason it is rejected."""
    if "__error__" in row:
        return row["__error__"]
    asin = row.get("asin", "").strip().upper()
    if not asin:
        return "missing ASIN"
    if not is_valid_asin(asin):
        return f"invalid ASIN {asin!r}: expected 10 characters A-Z0-9"
    try:
        markets = normalise_markets(row.get("markets", ""))
    except ValueError as exc:
        return str(exc)
    priority_text = row.get("priority", "").strip()
    try:
        priority = int(priority_text) if priority_text else 0
    except ValueError:
        return f"priority {priority_text!r} is not an integer"
    if not 0 <= priority <= MAX_PRIORITY:
        return f"priority {priority} is outside 0-{MAX_PRIORITY}"
    note = row.get("note", "").strip() or None
    return WatchlistEntry(asin, markets, priority, source, note)


def _merge(first: WatchlistEntry, again: WatchlistEntry) -> WatchlistEntry:
    return replace(
        first,
        markets=normalise_markets([*first.markets, *again.markets]),
        priority=max(first.priority, again.priority),
        note=first.note or again.note,
    )


# --- Elasticsearch store ---------------------------------------------------------------------


class WatchlistStore:
    """The watchlist in Elasticsearch (index ``settings.index("watchlist")``, id = ASIN).

    Writes wait for a refresh, so a ``list`` right after an ``add`` sees it. Adding an ASIN
    that is already there is idempotent: its ``added_at`` stays the first add's, the other
    fields take the new values (a ``None`` note keeps the stored note), and an unchanged
    entry is not rewritten. No scripts are used (the entry is read, then created with
    ``op_type=create`` or partially updated).
    """

    page_size: int = 1_000

    def __init__(self, es: Elasticsearch, settings: Settings) -> None:
        self.es = es
        self.index = settings.index(WATCHLIST)
        self._ensured = False

    def ensure_index(self) -> None:
        """Create the index with the contract's mapping when it does not exist."""
        if self._ensured:
            return
        if not self.es.indices.exists(index=self.index):
            try:
                self.es.indices.create(
                    index=self.index, mappings=mapping_for(WATCHLIST), settings=index_settings()
                )
            except BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
        self._ensured = True

    def add(self, entries: Iterable[WatchlistEntry], *, now: datetime | None = None) -> int:
        """Store the entries; the number of ASINs created or changed (unchanged: not counted)."""
        when = format_utc(now or datetime.now(UTC))
        wanted: dict[str, WatchlistEntry] = {}
        for entry in entries:
            asin = entry.asin.strip().upper()
            if not is_valid_asin(asin):
                raise ValueError(f"invalid ASIN {entry.asin!r}")
            normalised = replace(entry, asin=asin, markets=normalise_markets(entry.markets))
            held = wanted.get(asin)
            wanted[asin] = normalised if held is None else _merge(held, normalised)
        if not wanted:
            return 0
        self.ensure_index()
        written = 0
        asins = builtins.list(wanted)
        for start in range(0, len(asins), self.page_size):
            chunk = asins[start : start + self.page_size]
            stored = self._mget(chunk)
            operations: builtins.list[dict[str, Any]] = []
            for asin in chunk:
                entry = wanted[asin]
                current = stored.get(asin)
                if current is None:
                    operations.append({"create": {"_index": self.index, "_id": asin}})
                    operations.append(_document(entry, added_at=entry.added_at, now=when))
                    continue
                changes = _changes(current, entry)
                if changes:
                    operations.append({"update": {"_index": self.index, "_id": asin}})
                    operations.append({"doc": {**changes, "updated_at": when}})
            if not operations:
                continue
            response = self.es.bulk(operations=operations, refresh="wait_for")
            conflicts: builtins.list[WatchlistEntry] = []
            for item in response["items"]:
                ((op, result),) = item.items()
                if result.get("status", 500) < 300:
                    written += 1
                elif op == "create" and result.get("status") == 409:
                    conflicts.append(wanted[result["_id"]])  # added concurrently: update it
                else:
                    raise RuntimeError(f"watchlist {op} of {result.get('_id')} failed: {result}")
            if conflicts:
                written += self.add(conflicts, now=now)
        return written

    def remove(self, asins: Iterable[str]) -> int:
        """Delete the ASINs; the number that were on the watchlist."""
        ids = sorted({a.strip().upper() for a in asins if a.strip()})
        if not ids or not self.es.indices.exists(index=self.index):
            return 0
        removed = 0
        for start in range(0, len(ids), self.page_size):
            operations = [
                {"delete": {"_index": self.index, "_id": asin}}
                for asin in ids[start : start + self.page_size]
            ]
            response = self.es.bulk(operations=operations, refresh="wait_for")
            for item in response["items"]:
                result = item["delete"]
                if result.get("result") == "deleted":
                    removed += 1
                elif result.get("status") != 404:
                    raise RuntimeError(f"watchlist delete of {result.get('_id')} failed: {result}")
        return removed

    def list(self, limit: int = 1000) -> builtins.list[WatchlistEntry]:
        """Up to ``limit`` entries, highest priority first, then by ASIN."""
        if limit <= 0 or not self.es.indices.exists(index=self.index):
            return []
        entries: builtins.list[WatchlistEntry] = []
        for entry in self._scan(sort=[{"priority": "desc"}, {"asin": "asc"}]):
            entries.append(entry)
            if len(entries) >= limit:
                break
        return entries

    def all_entries(self) -> builtins.list[WatchlistEntry]:
        """Every entry, by ASIN (paged with ``search_after``, any size)."""
        if not self.es.indices.exists(index=self.index):
            return []
        return builtins.list(self._scan(sort=[{"asin": "asc"}]))

    def get(self, asin: str) -> WatchlistEntry | None:
        try:
            response = self.es.get(index=self.index, id=asin.strip().upper())
        except NotFoundError:
            return None
        return _entry_from(response["_source"])

    def count(self) -> int:
        if not self.es.indices.exists(index=self.index):
            return 0
        return int(self.es.count(index=self.index)["count"])

    def _mget(self, asins: Sequence[str]) -> dict[str, dict[str, Any]]:
        response = self.es.mget(index=self.index, ids=builtins.list(asins))
        return {doc["_id"]: doc["_source"] for doc in response["docs"] if doc.get("found")}

    def _scan(self, sort: builtins.list[dict[str, str]]) -> Iterator[WatchlistEntry]:
        """Pages of ``page_size`` with ``search_after``; ``asin`` (unique) breaks ties."""
        after: builtins.list[Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"search_after": after} if after is not None else {}
            response = self.es.search(
                index=self.index,
                size=self.page_size,
                sort=sort,
                query={"match_all": {}},
                track_total_hits=False,
                **kwargs,
            )
            hits = response["hits"]["hits"]
            for hit in hits:
                yield _entry_from(hit["_source"])
            if len(hits) < self.page_size:
                return
            after = hits[-1]["sort"]


def _document(entry: WatchlistEntry, *, added_at: datetime | None, now: str) -> dict[str, Any]:
    return {
        "asin": entry.asin,
        "markets": builtins.list(entry.markets),
        "priority": entry.priority,
        "source": entry.source,
        "note": entry.note,
        "added_at": format_utc(added_at) if added_at is not None else now,
        "updated_at": now,
    }


def _changes(current: dict[str, Any], entry: WatchlistEntry) -> dict[str, Any]:
    """The fields of ``entry`` that differ from the stored document (``added_at`` never)."""
    wanted: dict[str, Any] = {
        "markets": builtins.list(entry.markets),
        "priority": entry.priority,
        "source": entry.source,
    }
    if entry.note is not None:
        wanted["note"] = entry.note
    return {k: v for k, v in wanted.items() if current.get(k) != v}


def _entry_from(source: dict[str, Any]) -> WatchlistEntry:
    added = source.get("added_at")
    return WatchlistEntry(
        asin=source["asin"],
        markets=tuple(source.get("markets") or DEFAULT_MARKETS),
        priority=int(source.get("priority") or 0),
        source=str(source.get("source") or "manual"),
        note=source.get("note"),
        added_at=parse_utc(added) if added else None,
    )
