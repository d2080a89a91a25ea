"""Replay: choosing the first pass's time shift (``--shift-time``, ``--after-topic``) and the
newest event time among a topic's last messages (pure parts; the Kafka read is tested in
tests/integration/ingest/test_replay_after_topic.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from app.contracts.keepa_products import ENVELOPE, KeepaProductsEnvelope
from app.domain.keepa_time import to_keepa_minutes
from app.ingest.producer import PublishReport
from app.ingest.replay import (
    FileTimes,
    ReplaySummary,
    choose_shift,
    describe_shift,
    event_time,
    file_times,
    newest_event,
    replay_file,
    shift_after,
    shift_to_now,
)
from devtools.sample.generator import generate_sample

T0 = datetime(2025, 3, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
#: A file of 4 steps of 15 minutes: fetched_at (and lastUpdate) T0 ... T0 + 45 min.
TIMES = FileTimes(T0, T0 + 45 * MINUTE, 15 * MINUTE, first_event=T0)


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[KeepaProductsEnvelope] = []

    async def publish(self, envelopes: Iterable[KeepaProductsEnvelope]) -> PublishReport:
        batch = list(envelopes)
        self.sent.extend(batch)
        return PublishReport(len(batch), {0: len(batch)}, [e.product["asin"] for e in batch])


def sample(tmp_path: Path, steps: int) -> Path:
    path = tmp_path / "sample.jsonl"
    envelopes = generate_sample(2, seed=7, start=T0, steps=steps, step_minutes=15)
    path.write_bytes(b"".join(ENVELOPE.encode(e) + b"\n" for e in envelopes))
    return path


def raw(fetched_at: str, **product: Any) -> bytes:
    return orjson.dumps(
        {"domain": "DE", "fetched_at": fetched_at, "product": {"asin": "B0TESTAS1N", **product}}
    )


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 3, 1, hour, minute, second, tzinfo=UTC)


# --- the shifts -------------------------------------------------------------------------------


def test_shift_to_now_rounds_down_to_whole_minutes() -> None:
    # latest fetched_at 00:45 -> now 02:00:30 = 75.5 min -> 75 (the file ends at 02:00)
    assert shift_to_now(TIMES, at(2, 0, 30)) == 75
    # a file in the future is moved back: latest 00:45 -> now 00:00 = -45 min
    assert shift_to_now(TIMES, T0) == -45
    assert shift_to_now(FileTimes(None, None, MINUTE), T0) is None


def test_shift_after_puts_the_earliest_event_one_step_after_the_newest() -> None:
    # earliest event 00:00 -> newest 03:00 + one step 15 min = 03:15: 195 min
    assert shift_after(TIMES, at(3)) == 195
    # newest 03:00:20 + 15 min = 03:15:20 -> rounded up to 196 min (00:00 -> 03:16)
    assert shift_after(TIMES, at(3, 0, 20)) == 196
    # the topic a day older than the file: -1440 + 15 = -1425 min
    assert shift_after(TIMES, T0 - timedelta(days=1)) == -1425
    assert shift_after(FileTimes(T0, T0, MINUTE, first_event=None), at(3)) is None


def test_choose_shift_takes_the_larger_shift() -> None:
    now = at(2, 0, 30)  # --shift-time alone: 75 min (above)
    assert choose_shift(TIMES, now=now) == 75
    # a previous run left events up to 03:00 (later than now): 195 min wins over 75
    assert choose_shift(TIMES, now=now, newest=at(3)) == 195
    # the topic's newest event a day old: 75 min wins over -1425
    assert choose_shift(TIMES, now=now, newest=T0 - timedelta(days=1)) == 75
    # --after-topic alone: 195, or 0 (not -1425: the file is never moved back) ...
    assert choose_shift(TIMES, newest=at(3)) == 195
    assert choose_shift(TIMES, newest=T0 - timedelta(days=1)) == 0
    # ... --shift-time alone may move it back (-45); nothing asked: no shift
    assert choose_shift(TIMES, now=T0) == -45
    assert choose_shift(TIMES) == 0
    assert choose_shift(FileTimes(None, None, MINUTE), now=now, newest=at(3)) == 0


def test_file_times_earliest_and_latest_event_are_the_workers_event_times(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [
        raw("2025-03-01T12:05:00Z", lastUpdate=to_keepa_minutes(at(11, 50))),  # event 11:50
        raw("2025-03-01T11:55:00Z"),  # no lastUpdate: event = fetched_at 11:55
        raw("2025-03-01T11:00:00Z", lastUpdate="soon"),  # the worker rejects it: left out
        b"{not json",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    times = file_times(path)
    assert times.first_event == at(11, 50)
    # The latest: 11:55 (fetched_at), not 12:05 (its event is 11:50) nor 11:00 (rejected).
    assert times.last_event == at(11, 55)
    assert (times.first, times.last) == (at(11), at(12, 5))
    # fetched_at 11:00, 11:55, 12:05: gaps 55 and 10 min, the smallest is the step
    assert times.step == 10 * MINUTE


# --- the newest event on the topic ------------------------------------------------------------


def test_newest_event_of_the_last_messages_skips_what_does_not_decode() -> None:
    found = newest_event(
        {
            0: raw("2025-03-01T12:05:00Z", lastUpdate=to_keepa_minutes(at(12))),  # 12:00
            1: raw("2025-03-01T12:30:00Z"),  # 12:30, the newest
            2: b"{not json",
            3: None,  # a tombstone
            4: raw("2025-03-02T00:00:00Z", lastUpdate=True),  # later, but no event time
            5: raw("2025-03-01T12:10:00Z", lastUpdate=0),  # 12:10
        }
    )
    assert found.newest == at(12, 30)
    assert sorted(found.skipped) == [2, 3, 4]
    assert found.skipped[2].startswith("malformed_json: ")
    assert found.skipped[3].startswith("malformed_json: ")
    assert found.skipped[4].startswith("bad_timestamp: ")
    assert newest_event({}).newest is None
    assert newest_event({0: b"[]"}).newest is None


# --- replay_file ------------------------------------------------------------------------------


async def test_after_topic_starts_the_file_one_step_after_the_newest_event(
    tmp_path: Path,
) -> None:
    path = sample(tmp_path, steps=2)  # 00:00 and 00:15, 10 envelopes each
    publisher = FakePublisher()
    newest = T0 + timedelta(days=1)
    summary = await replay_file(
        path,  # type: ignore[arg-type]
        publisher,  # type: ignore[arg-type]
        shift_time=True,
        now=T0 + timedelta(hours=2),  # --shift-time alone: 00:15 -> 02:00 = 105 min
        after_topic=True,
        topic_newest=newest,
        loop=True,
        passes=2,
    )
    # 00:00 -> newest (+1440 min) + one step (15) = 1455 min; each pass +30 min (span + step)
    assert (summary.shift_minutes, summary.period_minutes) == (1455, 30)
    assert summary.topic_newest == newest
    times = sorted(event_time(e) for e in publisher.sent)
    assert times[0] == newest + 15 * MINUTE
    assert times[-1] == newest + 15 * MINUTE + 45 * MINUTE  # pass 1's second step
    assert len(times) == 40


async def test_after_topic_without_events_on_the_topic_is_shift_time(tmp_path: Path) -> None:
    path = sample(tmp_path, steps=2)
    publisher = FakePublisher()
    now = T0 + timedelta(hours=2)
    summary = await replay_file(
        path,  # type: ignore[arg-type]
        publisher,  # type: ignore[arg-type]
        shift_time=True,
        now=now,
        after_topic=True,
        topic_newest=None,
    )
    assert summary.shift_minutes == 105  # 00:15 -> 02:00
    assert max(e.fetched_at for e in publisher.sent) == now


async def test_a_second_looped_replay_resumes_after_the_first(tmp_path: Path) -> None:
    """The `make demo` twice defect: a looped replay ran far into the future; the same file
    replayed again with --shift-time --after-topic lies wholly after it."""
    path = sample(tmp_path, steps=4)
    now = T0 + timedelta(hours=1)
    first = FakePublisher()
    await replay_file(path, first, shift_time=True, now=now, loop=True, passes=50)  # type: ignore[arg-type]
    newest = newest_event({0: ENVELOPE.encode(first.sent[-1])}).newest
    assert newest is not None
    assert newest > now + timedelta(hours=24)  # 49 passes x 60 min ahead of the wall clock

    again = FakePublisher()
    summary = await replay_file(
        path,  # type: ignore[arg-type]
        again,  # type: ignore[arg-type]
        shift_time=True,
        now=now + timedelta(minutes=20),
        after_topic=True,
        topic_newest=newest,
    )
    assert min(event_time(e) for e in again.sent) > max(event_time(e) for e in first.sent)
    assert summary.shift_minutes > 49 * 60


def test_describe_shift_names_the_shift_and_the_topics_newest_event() -> None:
    summary = ReplaySummary(shift_minutes=195, period_minutes=60, topic_newest=at(3))
    line = describe_shift(summary, TIMES, after_topic=True)
    assert line == (
        "times shifted by 195 min; earliest event -> 2025-03-01T03:15:00+00:00, "
        "latest fetched_at -> 2025-03-01T04:00:00+00:00; "
        "newest event on the topic 2025-03-01T03:00:00+00:00; +60 min per pass"
    )
    empty = ReplaySummary(shift_minutes=75)
    assert describe_shift(empty, TIMES, after_topic=True).endswith("; topic holds no event")


class FakeClock:
    """A wall clock that only moves when the replay sleeps; records the sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


async def test_realtime_plays_later_passes_at_the_pace_of_the_clock(tmp_path: Path) -> None:
    """--shift-time --loop --realtime: the first pass (the history, ending now) is not held
    back; the next passes wait so that no envelope is published before its fetched_at."""
    path = sample(tmp_path, steps=4)  # 00:00, 00:15, 00:30, 00:45; 10 envelopes each
    clock = FakeClock(T0 + timedelta(hours=1))  # now = 01:00
    published_at: list[tuple[datetime, datetime]] = []

    class Recording(FakePublisher):
        async def publish(self, envelopes: Iterable[KeepaProductsEnvelope]) -> PublishReport:
            batch = list(envelopes)
            published_at.extend((clock.now, e.fetched_at) for e in batch)
            return await super().publish(batch)

    summary = await replay_file(
        path,
        Recording(),  # type: ignore[arg-type]
        shift_time=True,
        now=clock.now,
        loop=True,
        passes=3,
        clock=clock,
        sleep=clock.sleep,
    )
    # shift 00:45 -> 01:00 = 15 min; period = span 45 + step 15 = 60 min. Pass 0: 00:15 ..
    # 01:00, all due: no sleep. Pass 1: 01:15, 01:30, 01:45, 02:00: one 15-minute wait
    # (900 s) before each step; pass 2 the same: 8 waits in all.
    assert (summary.shift_minutes, summary.period_minutes) == (15, 60)
    assert clock.sleeps == [900.0] * 8
    assert len(published_at) == 120
    assert all(sent_at >= fetched for sent_at, fetched in published_at)  # never ahead
    assert clock.now == T0 + timedelta(hours=3)  # the last step, 03:00


async def test_realtime_keeps_the_lead_of_a_file_shifted_into_the_future(
    tmp_path: Path,
) -> None:
    """After a topic whose events lie a day ahead (--after-topic), the replay starts a day
    ahead and keeps that lead, playing at the pace of the clock (no day-long wait, and no
    running further ahead pass after pass)."""
    path = sample(tmp_path, steps=2)  # 00:00, 00:15
    clock = FakeClock(T0 + timedelta(hours=1))
    summary = await replay_file(
        path,  # type: ignore[arg-type]
        FakePublisher(),  # type: ignore[arg-type]
        shift_time=True,
        now=clock.now,
        after_topic=True,
        topic_newest=T0 + timedelta(days=1),
        loop=True,
        passes=2,
        clock=clock,
        sleep=clock.sleep,
    )
    # Shift 1455 min: pass 0 at 1 day + 15 min and 1 day + 30 min. The earliest, 1 day +
    # 15 min, lies 23 h 15 min ahead of the clock (01:00): the lead. 1 day + 15 min is due at
    # once; 1 day + 30 min 15 min later; pass 1 (+30 min) at 1 day + 45 and + 60 min: 15 min
    # each. Three waits of 900 s, and the replay ends 45 min after it started.
    assert summary.shift_minutes == 1455
    assert clock.sleeps == [900.0, 900.0, 900.0]
    assert clock.now == T0 + timedelta(hours=1, minutes=45)
