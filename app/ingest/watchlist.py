"""The watchlist: the ASINs to track, with their markets and priority.

:func:`parse_watchlist` (pure) reads a watchlist file, in one of two formats:

* **plain text**: one ASIN a line; blank lines and ``#`` comments (whole-line or trailing)
  are ignored; every ASIN gets all five markets and priority 0;
* **CSV**: the first non-comment line is a header containing an ``asin`` column, and
  optionally ``markets`` (``DE|FR``, ``DE FR`` or ``DE;FR``; empty = all five),
  ``priority`` (0-10) and ``note``; other columns are ignored. The delimiter is ``,``,
  ``;`` or a tab, whichever the header uses.

The rules of an entry are :mod:`app.domain.watchlist`'s: an ASIN is 10 characters
``A-Z0-9`` after trimming (lower-case input is upper-cased); markets must be ``DE``, ``FR``,
``IT``, ``ES`` or ``GB`` (``UK`` is read as GB). A repeated ASIN is merged into its first
occurrence (union of markets, highest priority, first note) and reported as a warning, not an
error.

:class:`WatchlistStore` keeps the watchlist in Elasticsearch (index
``settings.index("watchlist")``, one document per ASIN, id = ASIN; the document and the
write rules are :mod:`app.es.watchlist`'s).
"""

from __future__ import annotations

import builtins
import csv
import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from app.domain.asin import normalise_asin
from app.domain.watchlist import (
    WatchlistEntry,
    check_priority,
    merge_entries,
    normalise_entries,
    normalise_markets,
)
from app.es.indices import WATCHLIST, index_settings, mapping_for
from app.es.watchlist import WatchlistWrite, entry_from_document, plan_writes
from app.settings import Settings

__all__ = [
    "LineError",
    "WatchlistParse",
    "WatchlistStore",
    "parse_watchlist",
    "parse_watchlist_report",
]

logger = logging.getLogger(__name__)

_CSV_COLUMNS: Final = ("asin", "markets", "priority", "note")


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
        by_asin[entry.asin] = merge_entries(held, entry)
        result.warnings.append(
            LineError(number, raw, f"duplicate of line {first_line[entry.asin]}; merged")
        )
    result.entries = list(by_asin.values())
    return result


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
    if not row.get("asin", "").strip():
        return "missing ASIN"
    try:
        asin = normalise_asin(row["asin"])
        markets = normalise_markets(row.get("markets", ""))
        priority = check_priority(_integer_priority(row.get("priority", "")))
    except ValueError as exc:
        return str(exc)
    return WatchlistEntry(asin, markets, priority, source, row.get("note", "").strip() or None)


def _integer_priority(text: str) -> int:
    """The priority column as an integer (empty = 0)."""
    text = text.strip()
    try:
        return int(text) if text else 0
    except ValueError:
        raise ValueError(f"priority {text!r} is not an integer") from None


# --- Elasticsearch store ---------------------------------------------------------------------


class WatchlistStore:
    """The watchlist in Elasticsearch (index ``settings.index("watchlist")``, id = ASIN).

    Writes wait for a refresh, so a ``list`` right after an ``add`` sees it. Adding an ASIN
    that is already there is idempotent: its ``added_at`` stays the first add's, the other
    fields take the new values (a ``None`` note keeps the stored note), and an unchanged
    entry is not rewritten (the rules of :mod:`app.es.watchlist`, shared with the API).
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
        """Store the entries; the number of ASINs created or changed (unchanged: not counted).

        ``ValueError`` (nothing written) when an entry breaks a rule of
        :mod:`app.domain.watchlist`; an ASIN given twice is merged.
        """
        wanted = builtins.list(normalise_entries(entries).values())
        if not wanted:
            return 0
        self.ensure_index()
        when = now or datetime.now(UTC)
        written = 0
        for start in range(0, len(wanted), self.page_size):
            written += self._write(wanted[start : start + self.page_size], when).written
        return written

    def _write(self, entries: Sequence[WatchlistEntry], now: datetime) -> WatchlistWrite:
        """One bulk request for normalised entries (plus one per lost create race)."""
        plan = plan_writes(self.index, entries, self._mget([e.asin for e in entries]), now)
        if not plan.operations:
            return WatchlistWrite(unchanged=plan.unchanged)
        done, raced = plan.applied(self.es.bulk(operations=plan.operations, refresh="wait_for"))
        return done.then(self._write(raced, now)) if raced else done

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
        return entry_from_document(response["_source"])

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
                yield entry_from_document(hit["_source"])
            if len(hits) < self.page_size:
                return
            after = hits[-1]["sort"]
