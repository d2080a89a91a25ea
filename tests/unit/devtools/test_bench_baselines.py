"""The Faust baselines' event clock, result file and command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.bench_baselines import BaselineProcess, BaselineResult, EventClock, _parser


def test_the_clock_stamps_the_first_and_the_expected_event() -> None:
    clock = EventClock(expected=3)
    assert [clock.tick(t) for t in (10.0, 11.0, 12.5)] == [False, False, True]
    assert clock.result() == BaselineResult(count=3, first=10.0, last=12.5)
    assert clock.tick(13.0)  # a duplicate is counted; the window stays
    assert clock.result() == BaselineResult(count=4, first=10.0, last=12.5)


def test_no_result_before_the_expected_count() -> None:
    clock = EventClock(expected=2)
    clock.tick(1.0)
    with pytest.raises(ValueError, match="1/2"):
        clock.result()


def test_the_result_round_trips_through_json() -> None:
    result = BaselineResult(count=20000, first=1765000000.25, last=1765000004.75)
    assert BaselineResult.from_json(result.to_json()) == result


def test_the_process_command_is_what_the_module_parses(tmp_path: Path) -> None:
    process = BaselineProcess("table", "bench-x-table", tmp_path, "127.0.0.1:9092", "t", 4, 99)
    command = process.command()
    assert command[1:3] == ["-m", "devtools.bench_baselines"]
    args = _parser().parse_args(command[3:])
    assert (args.mode, args.app_id, args.topic, args.partitions, args.expected) == (
        "table",
        "bench-x-table",
        "t",
        4,
        99,
    )
    assert args.data_dir == tmp_path / "data"
    assert args.out == process.out
    assert args.web_port == process.web_port
