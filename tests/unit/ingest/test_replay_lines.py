"""Replay: line handling, time shifting, pacing and looping (with a fake publisher)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import orjson
import pytest

from app.contracts.keepa_products import ENVELOPE, KeepaProductsEnvelope, quote_from_message
from app.domain.keepa_prices import PriceType
from app.domain.keepa_time import to_keepa_minutes
from app.ingest.producer import PublishReport
from app.ingest.replay import (
    BadLine,
    file_times,
    parse_line,
    read_envelopes,
    replay_file,
    shift_envelope,
)
from devtools.sample.generator import generate_sample

T0 = datetime(2025, 3, 1, tzinfo=UTC)


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[KeepaProductsEnvelope] = []
        self.calls = 0

    async def publish(self, envelopes: Iterable[KeepaProductsEnvelope]) -> PublishReport:
        self.calls += 1
        batch = list(envelopes)
        self.sent.extend(batch)
        return PublishReport(len(batch), {0: len(batch)}, [e.product["asin"] for e in batch])


def sample(tmp_path: Path, steps: int = 3, bad: bool = False) -> Path:
    envelopes = list(generate_sample(2, seed=7, start=T0, steps=steps, step_minutes=15))
    lines = [ENVELOPE.encode(e) for e in envelopes]
    if bad:
        lines[1:1] = [b"{not json", b"", b"[1, 2]", b"   ", b'{"schema_version": 9}']
    path = tmp_path / "sample.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_parse_line() -> None:
    assert parse_line(1, b"  \n") is None
    line = b'{"domain": "DE", "fetched_at": "2025-03-01T00:00:00Z", "product": {"asin": 1}}\n'
    parsed = parse_line(2, line)
    assert isinstance(parsed, KeepaProductsEnvelope)
    assert (parsed.schema_version, parsed.product) == (1, {"asin": 1})  # the worker judges it
    reasons = {
        b"{oops": "malformed_json",
        b'"text"': "not_an_object",
        b'{"schema_version": 2}': "unsupported_version",
        b'{"domain": "US", "fetched_at": "2025-03-01T00:00:00Z", "product": {}}': "unknown_domain",
        b'{"domain": "DE", "fetched_at": "2025-03-01T00:00:00Z"}': "missing_product",
    }
    for number, (raw, reason) in enumerate(reasons.items(), start=3):
        bad = parse_line(number, raw)
        assert isinstance(bad, BadLine)
        assert bad.line == number
        assert bad.reason.startswith(f"{reason}: ")


def test_read_envelopes_numbers_lines_and_skips_blanks(tmp_path: Path) -> None:
    path = sample(tmp_path, steps=1, bad=True)
    items = list(read_envelopes(path))
    bad = [(n, d.reason) for n, d in items if isinstance(d, BadLine)]
    assert [n for n, _ in bad] == [2, 4, 6]
    assert len(items) == 2 * 5 + 3


def test_file_times(tmp_path: Path) -> None:
    times = file_times(sample(tmp_path, steps=4))
    assert times.first == T0
    assert times.last == T0 + timedelta(minutes=45)
    assert times.step == timedelta(minutes=15)
    assert times.period == timedelta(minutes=60)


def test_shift_envelope_moves_every_timestamp_and_keeps_prices() -> None:
    env = next(generate_sample(1, seed=3, start=T0, steps=1, step_minutes=15))
    moved = shift_envelope(env, 60)
    assert moved.fetched_at == datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
    assert moved.product["lastUpdate"] == env.product["lastUpdate"] + 60
    for index, (old, new) in enumerate(zip(env.product["csv"], moved.product["csv"], strict=True)):
        if old is None:
            assert new is None
            continue
        stride = PriceType(index).stride
        assert new[0::stride] == [t + 60 for t in old[0::stride]]
        assert new[1::stride] == old[1::stride]
    before = quote_from_message(None, ENVELOPE.encode(env))
    after = quote_from_message(None, ENVELOPE.encode(moved))
    assert after.observed_at == before.observed_at + timedelta(hours=1)
    assert (after.buy_price, after.sell_price) == (before.buy_price, before.sell_price)
    assert env.product["lastUpdate"] == to_keepa_minutes(before.observed_at)  # input untouched


def test_shift_leaves_unparseable_values() -> None:
    env = ENVELOPE.decode(
        orjson.dumps(
            {
                "domain": "DE",
                "fetched_at": "2025-03-01T00:00:00Z",
                "product": {"lastUpdate": -1, "csv": [None, "x", [0, 1]]},
            }
        )
    )
    moved = shift_envelope(env, 5)
    assert moved.product == env.product
    assert moved.fetched_at == env.fetched_at + timedelta(minutes=5)
    assert msgspec.structs.replace(moved, fetched_at=env.fetched_at) == env


async def test_replay_skips_bad_lines_once_and_publishes_the_rest(tmp_path: Path) -> None:
    path = sample(tmp_path, steps=2, bad=True)
    publisher = FakePublisher()
    reported: list[BadLine] = []
    summary = await replay_file(path, publisher, on_bad_line=reported.append)  # type: ignore[arg-type]
    assert summary.published == 20
    assert summary.passes == 1
    assert [b.line for b in summary.skipped] == [2, 4, 6] == [b.line for b in reported]
    assert summary.partitions == {0: 20}


async def test_loop_shifts_each_pass_by_the_period(tmp_path: Path) -> None:
    path = sample(tmp_path, steps=2)
    publisher = FakePublisher()
    summary = await replay_file(path, publisher, loop=True, passes=3)  # type: ignore[arg-type]
    assert summary.passes == 3
    assert summary.published == 60
    assert summary.period_minutes == 30
    fetched = sorted({e.fetched_at for e in publisher.sent})
    assert fetched == [T0 + timedelta(minutes=15 * k) for k in range(6)]
    # event time increases strictly from one pass to the next for every (ASIN, market)
    observed: dict[tuple[str, str], list[int]] = {}
    for e in publisher.sent:
        observed.setdefault((e.product["asin"], e.domain), []).append(e.product["lastUpdate"])
    for series in observed.values():
        assert series == sorted(series)
        assert series[2] > series[1]


async def test_shift_time_ends_the_file_now(tmp_path: Path) -> None:
    path = sample(tmp_path, steps=2)
    publisher = FakePublisher()
    now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    summary = await replay_file(path, publisher, shift_time=True, now=now)  # type: ignore[arg-type]
    assert max(e.fetched_at for e in publisher.sent) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert summary.shift_minutes > 0


async def test_rate_paces_publishing(tmp_path: Path) -> None:
    import time

    path = sample(tmp_path, steps=1)  # 10 envelopes
    publisher = FakePublisher()
    began = time.monotonic()
    await replay_file(path, publisher, rate=50)  # type: ignore[arg-type]
    assert time.monotonic() - began >= 10 / 50 - 0.02
    assert publisher.calls == 2  # chunks of rate / 10 envelopes


async def test_negative_rate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rate"):
        await replay_file(sample(tmp_path, steps=1), FakePublisher(), rate=-1)  # type: ignore[arg-type]
