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
  moment the replay starts (the data looks live, e.g. for the dashboard's "last 24 h");
* ``--after-topic`` moves it (at least) so that the file's earliest event time lies one step
  after the newest event already on the target ``keepa.products`` topic: the event time of
  the last message of each partition (end offset - 1), the newest of them; a last message
  that does not decode, or whose ``lastUpdate`` is not Keepa minutes, is left out (and
  logged). The last messages stand for the topic's newest events when it was fed in
  event-time order, as a replay of a time-ordered file (a sample) is, pass after pass;
  otherwise they are an approximation. A second replay of a looped file (``make demo``
  run twice on one stack, whose previous run left event times up to a day in the future)
  then still moves the worker on instead of being ignored as out of order.

* ``--realtime``: event time advances at the pace of the clock: an envelope waits until its
  (shifted) ``fetched_at`` is no later than the clock plus the *lead*, how far the file's
  earliest (shifted) ``fetched_at`` lies ahead of the clock when the replay starts (0 when it
  does not: :func:`realtime_lead`). With ``--shift-time`` the file's history (ending now) goes
  out at once at ``--rate`` and the later passes of ``--loop`` play at the pace of the clock,
  so event time never runs ahead of wall-clock time (``make demo``: the dashboard's ages and
  "last seen" stay true); after a topic whose events lie ahead of the clock
  (``--after-topic``), the replay keeps that lead instead of running further ahead.

The shift of the first pass is the larger of those that apply (:func:`choose_shift`): with
``--shift-time`` and ``--after-topic`` the file ends now, unless that would leave its
earliest event less than one step after the newest event on the topic: then it starts one
step after that event. ``--after-topic`` alone never moves the file back. The shift is
logged when the replay starts and printed in its summary.

A shift moves ``fetched_at``, the product's Keepa-minute timestamps (``lastUpdate``,
``lastPriceChange`` and the other ``last*Update`` fields) and the time points of every
``csv`` history, all by the same whole number of minutes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import msgspec

from app.contracts.base import ContractError
from app.contracts.keepa_products import ENVELOPE, KeepaProductsEnvelope
from app.domain.envelope import InvalidEnvelope, observed_at
from app.domain.keepa_prices import PriceType
from app.ingest.producer import EnvelopePublisher, PublishReport
from app.ingest.topic_reader import read_last

__all__ = [
    "KEEPA_MINUTE_FIELDS",
    "BadLine",
    "FileTimes",
    "ReplaySummary",
    "TopicNewest",
    "choose_shift",
    "describe_shift",
    "event_time",
    "file_times",
    "newest_event",
    "newest_event_on_topic",
    "parse_line",
    "read_envelopes",
    "realtime_lead",
    "replay_file",
    "shift_after",
    "shift_envelope",
    "shift_to_now",
]

log = logging.getLogger(__name__)

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
_MINUTE: Final = timedelta(minutes=1)


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
    #: With ``--after-topic``: the newest event time found on the topic (None: none found).
    topic_newest: datetime | None = None


@dataclass(frozen=True, slots=True)
class FileTimes:
    """Time range of a file: earliest and latest ``fetched_at``, its smallest step, and its
    earliest and latest event time (:func:`event_time`)."""

    first: datetime | None
    last: datetime | None
    step: timedelta
    first_event: datetime | None = None
    last_event: datetime | None = None

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


def event_time(envelope: KeepaProductsEnvelope) -> datetime:
    """The event time the worker gives the envelope (``product.lastUpdate``, else
    ``fetched_at``: :func:`app.domain.envelope.observed_at`). Raises
    :class:`app.domain.envelope.InvalidEnvelope` for a ``lastUpdate`` that is not Keepa
    minutes."""
    return observed_at(envelope.product, envelope.fetched_at)


def file_times(path: Path) -> FileTimes:
    """Earliest / latest ``fetched_at`` of the file's envelopes, its smallest step and its
    earliest / latest event time (bad lines, and for the event times envelopes whose
    ``lastUpdate`` the worker rejects, are ignored)."""
    seen: set[datetime] = set()
    first_event: datetime | None = None
    last_event: datetime | None = None
    for _, doc in read_envelopes(path):
        if isinstance(doc, BadLine):
            continue
        seen.add(doc.fetched_at)
        try:
            when = event_time(doc)
        except InvalidEnvelope:
            continue
        if first_event is None or when < first_event:
            first_event = when
        if last_event is None or when > last_event:
            last_event = when
    if not seen:
        return FileTimes(None, None, _MINUTE)
    ordered = sorted(seen)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    step = min(gaps) if gaps else _MINUTE
    return FileTimes(ordered[0], ordered[-1], _whole_minutes(step), first_event, last_event)


def shift_to_now(times: FileTimes, now: datetime) -> int | None:
    """``--shift-time``: the whole minutes (rounded down) that move the file's latest
    ``fetched_at`` to ``now``; ``None`` for a file without envelopes."""
    if times.last is None:
        return None
    return (now - times.last) // _MINUTE


def shift_after(times: FileTimes, newest: datetime) -> int | None:
    """``--after-topic``: the whole minutes (rounded up) that move the file's earliest event
    time to one step (:attr:`FileTimes.step`) after ``newest``, the newest event on the
    topic; ``None`` for a file without a usable event time."""
    if times.first_event is None:
        return None
    return -((times.first_event - newest - times.step) // _MINUTE)  # ceil


def choose_shift(
    times: FileTimes, *, now: datetime | None = None, newest: datetime | None = None
) -> int:
    """The shift of the first pass, in minutes: the larger of :func:`shift_to_now` (when
    ``now`` is given, i.e. ``--shift-time``; else 0, no shift) and :func:`shift_after` (when
    ``newest`` is given, i.e. ``--after-topic`` found an event on the topic)."""
    to_now = shift_to_now(times, now) if now is not None else None
    shift = 0 if to_now is None else to_now
    after = shift_after(times, newest) if newest is not None else None
    return shift if after is None else max(shift, after)


@dataclass(frozen=True, slots=True)
class TopicNewest:
    """The newest event time among the last messages of a topic's partitions, and the
    partitions whose last message was left out (partition -> why)."""

    newest: datetime | None
    skipped: dict[int, str] = field(default_factory=dict)


def newest_event(last: Mapping[int, bytes | None]) -> TopicNewest:
    """The newest :func:`event_time` among ``last`` (partition -> its last message's value);
    a value that the contract does not decode, or whose ``lastUpdate`` the worker rejects,
    is left out and named in :attr:`TopicNewest.skipped`."""
    newest: datetime | None = None
    skipped: dict[int, str] = {}
    for partition, value in sorted(last.items()):
        try:
            when = event_time(ENVELOPE.decode(value))
        except (ContractError, InvalidEnvelope) as exc:
            skipped[partition] = f"{exc.code}: {exc.message}"
            continue
        if newest is None or when > newest:
            newest = when
    return TopicNewest(newest, skipped)


async def newest_event_on_topic(
    bootstrap: str, topic: str, *, timeout_s: float = 30.0
) -> datetime | None:
    """The newest event time on ``topic`` by :func:`newest_event` of the last message of
    each partition (``None`` when the topic holds none that decodes); logs what it found and
    every last message it left out. Raises ``TimeoutError`` and aiokafka's errors as
    :func:`app.ingest.topic_reader.read_last`."""
    last = await read_last(bootstrap, topic, timeout_s=timeout_s)
    found = newest_event({partition: value for partition, (_, value) in last.items()})
    for partition, reason in found.skipped.items():
        log.warning(
            "%s partition %d: last message left out of the newest event time: %s",
            topic,
            partition,
            reason,
        )
    log.info(
        "newest event on %s: %s (last messages of %d partition(s), %d left out)",
        topic,
        found.newest.isoformat() if found.newest else "none",
        len(last),
        len(found.skipped),
    )
    return found.newest


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
    after_topic: bool = False,
    topic_newest: datetime | None = None,
    on_published: Callable[[int], None] | None = None,
    on_bad_line: Callable[[BadLine], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ReplaySummary:
    """Publish the file's envelopes (see the module doc).

    ``rate``: envelopes per second (0 = as fast as the broker acknowledges). ``loop``:
    repeat with increasing time shifts, forever or for ``passes`` passes. ``shift_time``
    (with ``now``) and ``after_topic`` (with ``topic_newest``, the caller's
    :func:`newest_event_on_topic`; ``None`` when the topic holds no event) choose the first
    pass's shift by :func:`choose_shift`. ``clock`` (``--realtime``): an envelope whose shifted
    ``fetched_at`` is later than ``clock()`` plus the lead (:func:`realtime_lead`) waits
    (``sleep``) until it is not; what was gathered before is published first. Bad lines are
    reported once (first pass) through ``on_bad_line``; ``on_published(n)`` after every
    acknowledged chunk. Raises :class:`app.ingest.producer.PublishError` when a chunk cannot
    be delivered.
    """
    if rate < 0:
        raise ValueError("rate must be >= 0")
    summary = ReplaySummary()
    shifting = loop or shift_time or after_topic
    times = file_times(path) if shifting else FileTimes(None, None, timedelta(0))
    base_shift = choose_shift(
        times,
        now=now if shift_time else None,
        newest=topic_newest if after_topic else None,
    )
    period = int(times.period // _MINUTE) if loop else 0
    summary.shift_minutes, summary.period_minutes = base_shift, period
    summary.topic_newest = topic_newest if after_topic else None
    if shift_time or after_topic:
        log.info("replay of %s: %s", path, describe_shift(summary, times, after_topic=after_topic))
    total_passes = passes if loop else 1
    started = time.monotonic()
    lead = realtime_lead(times, base_shift, clock()) if clock is not None else timedelta(0)
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
            shifted = shift_envelope(doc, shift) if shift else doc
            if clock is not None:
                ahead = (shifted.fetched_at - clock() - lead).total_seconds()
                if ahead > 0:
                    if chunk:
                        await _send(publisher, chunk, summary, rate, started, on_published)
                        chunk = []
                    await sleep(ahead)
            chunk.append(shifted)
            if len(chunk) >= _chunk_size(rate):
                await _send(publisher, chunk, summary, rate, started, on_published)
                chunk = []
        if chunk:
            await _send(publisher, chunk, summary, rate, started, on_published)
        k += 1
        summary.passes = k
    return summary


def realtime_lead(times: FileTimes, shift_minutes: int, now: datetime) -> timedelta:
    """``--realtime``: how far the file's earliest ``fetched_at``, shifted, lies ahead of
    ``now`` (0 when it does not, or for a file without envelopes)."""
    if times.first is None:
        return timedelta(0)
    return max(times.first + timedelta(minutes=shift_minutes) - now, timedelta(0))


def describe_shift(summary: ReplaySummary, times: FileTimes, *, after_topic: bool) -> str:
    """One line on the first pass's shift: the minutes, where the file's earliest event and
    latest ``fetched_at`` land, and (``after_topic``) the newest event on the topic."""
    moved = timedelta(minutes=summary.shift_minutes)
    parts = [f"times shifted by {summary.shift_minutes} min"]
    if times.first_event is not None and times.last is not None:
        parts.append(
            f"earliest event -> {(times.first_event + moved).isoformat()}, "
            f"latest fetched_at -> {(times.last + moved).isoformat()}"
        )
    if after_topic:
        newest = summary.topic_newest
        parts.append(
            f"newest event on the topic {newest.isoformat()}" if newest else "topic holds no event"
        )
    if summary.period_minutes:
        parts.append(f"+{summary.period_minutes} min per pass")
    return "; ".join(parts)


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
