from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.utc import format_utc, parse_utc, require_utc


def test_format_uses_z_and_round_trips_microseconds() -> None:
    when = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert format_utc(when) == "2025-03-01T12:00:00.123456Z"
    assert parse_utc(format_utc(when)) == when


def test_offsets_are_converted() -> None:
    when = datetime(2025, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert format_utc(when) == "2025-03-01T12:00:00Z"
    assert parse_utc("2025-03-01T13:00:00+01:00") == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert require_utc(when).tzinfo is UTC


@pytest.mark.parametrize("text", ["2025-03-01T12:00:00", "2025-03-01", "noon", ""])
def test_parse_requires_an_offset(text: str) -> None:
    with pytest.raises(ValueError, match=r"timezone-aware|Invalid isoformat"):
        parse_utc(text)


def test_format_to_the_second_drops_microseconds_and_converts_offsets() -> None:
    when = datetime(2025, 3, 1, 13, 0, 5, 999999, tzinfo=timezone(timedelta(hours=1)))
    assert format_utc(when, timespec="seconds") == "2025-03-01T12:00:05Z"
    assert format_utc(when.replace(microsecond=0), timespec="seconds") == "2025-03-01T12:00:05Z"


def test_format_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_utc(datetime(2025, 3, 1, 12, 0), timespec="seconds")
