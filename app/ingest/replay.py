"""Replay a JSONL file of Keepa envelopes into ``keepa.products`` (``arbitrage replay``).

One ``keepa.products`` message a line (a ``KeepaProductsEnvelope`` of
:mod:`app.contracts.keepa_products`, see ``docs/contract.md``). Blank lines are ignored; a
line that is not such a message (not JSON, not an object, an unknown ``schema_version``, a
missing or mistyped field) is reported with its line number and the contract's reason, and
skipped (counted in the summary). Every other line is published, re-encoded by the
contract: a Keepa product that makes no quote is the worker's to dead-letter.

Time shifting. The worker works in event time (``product.lastUpdate``, else
``fetched_at``) and ignores an observation older than the one it holds, so publishing the
same file twice changes nothing. Hence:

* ``--loop`` replays the file again and again, and pass ``k`` (from 0) shifts every time
  by ``k`` x the file's *period*: its time span (latest - earliest ``fetched_at``) plus one
  step (the smallest gap between two distinct ``fetched_at``; 1 minute when the file has a
  single time), so event time keeps increasing from pass to pass;
* ``--shift-time`` additionally moves the whole file so its latest ``fetched_at`` is the
  moment the replay starts (the data looks live, e.g. for the dashboard's "last 24 h").

A shift moves ``fetched_at``, the product's Keepa-minute timestamps (``lastUpdate``,
``lastPriceChange`` and the other ``last*Update`` fields) and the time points of every
``csv`` history, all by the same whole number of minutes.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import msgspec

from app.contracts.base import ContractError
from app.contracts.keepa_products import ENVELOPE, KeepaProductsEnvelope
from app.domain.keepa_prices import PriceType
from app.ingest.producer import EnvelopePublisher, PublishReport

__all__ = [
    "KEEPA_MINUTE_FIELDS",
    "BadLine",
    "FileTimes",
    "ReplaySummary",
    "file_times",
    "parse_line",
    "read_envelopes",
    "replay_file",
    "shift_envelope",
]

#: Keepa-minute timestamps of a product that a time shift moves.
KEEPA_MINUTE_FIELDS: Final[tuple[str, ...]] = (
    "lastUpdate",
    "lastPriceChange",
    "lastRatingUpdate",
    "lastSoldUpdate",
    "lastStockUpdate",
    "lastEbayUpdate",
    "lastOffersUpdate",
)
#: Envelopes per publish call (each call waits for the broker's acknowledgements).
_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that was skipped: 1-based number and why."""

    line: int
    reason: str


@dataclass
class ReplaySummary:
    """What a replay did."""

    published: int = 0
    passes: int = 0
    skipped: list[BadLine] = field(default_factory=list)
    partitions: dict[int, int] = field(default_factory=dict)
    shift_minutes: int = 0
    period_minutes: int = 0


@dataclass(frozen=True, slots=True)
class FileTimes:
    """Time range of a file: earliest and latest ``fetched_at``, and its smallest step."""

    first: datetime | None
    last: datetime | None
    step: timedelta

    @property
    def period(self) -> timedelta:
        """How far pass ``k + 1`` is shifted beyond pass ``k`` (span + one step)."""
        if self.first is None or self.last is None:
            return self.step
        return self.last - self.first + self.step


def parse_line(number: int, raw: bytes) -> KeepaProductsEnvelope | BadLine | None:
    """The envelope of one line; ``None`` for a blank line; :class:`BadLine` otherwise."""
    if not raw.strip():
        return None
    try:
        return ENVELOPE.decode(raw)
    except ContractError as exc:
        return BadLine(number, str(exc))


def read_envelopes(path: Path) -> Iterator[tuple[int, KeepaProductsEnvelope | BadLine]]:
    """``(line number, envelope or BadLine)`` for every non-blank line, streamed."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            parsed = parse_line(number, raw)
            if parsed is not None:
                yield number, parsed


def file_times(path: Path) -> FileTimes:
    """Earliest / latest ``fetched_at`` of the file's envelopes and its smallest step
    (bad lines are ignored)."""
    seen = {doc.fetched_at for _, doc in read_envelopes(path) if not isinstance(doc, BadLine)}
    if not seen:
        return FileTimes(None, None, timedelta(minutes=1))
    ordered = sorted(seen)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    step = min(gaps) if gaps else timedelta(minutes=1)
    return FileTimes(ordered[0], ordered[-1], _whole_minutes(step))


def shift_envelope(envelope: KeepaProductsEnvelope, minutes: int) -> KeepaProductsEnvelope:
    """The envelope with every timestamp moved by ``minutes`` (see the module doc).

    Keepa timestamps that are not positive integers are left as they are (the worker judges
    them); the input is not modified.
    """
    if minutes == 0:
        return envelope
    moved = dict(envelope.product)
    for name in KEEPA_MINUTE_FIELDS:
        value = moved.get(name)
        if isinstance(value, int) and _is_time(value):
            moved[name] = value + minutes
    csv = moved.get("csv")
    if isinstance(csv, list):
        moved["csv"] = [_shift_history(i, h, minutes) for i, h in enumerate(csv)]
    return msgspec.structs.replace(
        envelope, fetched_at=envelope.fetched_at + timedelta(minutes=minutes), product=moved
    )


def _shift_history(index: int, history: object, minutes: int) -> object:
    if not isinstance(history, list):
        return history
    try:
        stride = PriceType(index).stride
    except ValueError:
        stride = 2
    out = list(history)
    for i in range(0, len(out) - 1, stride):
        if _is_time(out[i]):
            out[i] += minutes
    return out


def _is_time(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _whole_minutes(delta: timedelta) -> timedelta:
    return timedelta(minutes=max(1, math.ceil(delta / timedelta(minutes=1))))


async def replay_file(
    path: Path,
    publisher: EnvelopePublisher,
    *,
    rate: float = 0.0,
    loop: bool = False,
    passes: int | None = None,
    shift_time: bool = False,
    now: datetime | None = None,
    on_published: Callable[[int], None] | None = None,
    on_bad_line: Callable[[BadLine], None] | None = None,
) -> ReplaySummary:
    """Publish the file's envelopes (see the module doc).

    ``rate``: envelopes per second (0 = as fast as the broker acknowledges). ``loop``:
    repeat with increasing time shifts, forever or for ``passes`` passes. Bad lines are
    reported once (first pass) through ``on_bad_line``; ``on_published(n)`` after every
    acknowledged chunk. Raises :class:`app.ingest.producer.PublishError` when a chunk cannot
    be delivered.
    """
    if rate < 0:
        raise ValueError("rate must be >= 0")
    summary = ReplaySummary()
    times = file_times(path) if (loop or shift_time) else FileTimes(None, None, timedelta(0))
    base_shift = 0
    if shift_time and times.last is not None and now is not None:
        base_shift = int((now - times.last) // timedelta(minutes=1))
    period = int(times.period // timedelta(minutes=1)) if loop else 0
    summary.shift_minutes, summary.period_minutes = base_shift, period
    total_passes = passes if loop else 1
    started = time.monotonic()
    k = 0
    while total_passes is None or k < total_passes:
        shift = base_shift + k * period
        chunk: list[KeepaProductsEnvelope] = []
        for _, doc in read_envelopes(path):
            if isinstance(doc, BadLine):
                if k == 0:
                    summary.skipped.append(doc)
                    if on_bad_line is not None:
                        on_bad_line(doc)
                continue
            chunk.append(shift_envelope(doc, shift) if shift else doc)
            if len(chunk) >= _chunk_size(rate):
                await _send(publisher, chunk, summary, rate, started, on_published)
                chunk = []
        if chunk:
            await _send(publisher, chunk, summary, rate, started, on_published)
        k += 1
        summary.passes = k
    return summary


def _chunk_size(rate: float) -> int:
    if rate <= 0:
        return _CHUNK
    return max(1, min(_CHUNK, int(rate // 10) or 1))


async def _send(
    publisher: EnvelopePublisher,
    chunk: list[KeepaProductsEnvelope],
    summary: ReplaySummary,
    rate: float,
    started: float,
    on_published: Callable[[int], None] | None,
) -> None:
    if rate > 0:  # pace: the n-th envelope no earlier than n / rate seconds after the start
        due = started + (summary.published + len(chunk)) / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    report: PublishReport = await publisher.publish(chunk)
    summary.published += report.sent
    for partition, count in report.partitions.items():
        summary.partitions[partition] = summary.partitions.get(partition, 0) + count
    if on_published is not None:
        on_published(report.sent)
