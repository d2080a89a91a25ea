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
