from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.keepa_time import KEEPA_EPOCH, from_keepa_minutes, to_keepa_minutes


def test_epoch() -> None:
    assert from_keepa_minutes(0) == datetime(2011, 1, 1, tzinfo=UTC)
    assert KEEPA_EPOCH.timestamp() == 21_564_000 * 60


def test_known_value() -> None:
    # 2025-03-01T12:00Z = unix 1_740_830_400 s = 29_013_840 min; minus 21_564_000 = 7_449_840.
    when = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert to_keepa_minutes(when) == 7_449_840
    assert from_keepa_minutes(7_449_840) == when
    assert from_keepa_minutes(7_449_840).timestamp() == (7_449_840 + 21_564_000) * 60


def test_result_is_aware_utc() -> None:
    assert from_keepa_minutes(123).tzinfo is UTC


def test_other_offsets_and_truncation() -> None:
    # 13:00:59 at +01:00 is 12:00:59 UTC -> truncated to the minute 12:00.
    when = datetime(2025, 3, 1, 13, 0, 59, tzinfo=timezone(timedelta(hours=1)))
    assert to_keepa_minutes(when) == 7_449_840


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        to_keepa_minutes(datetime(2025, 3, 1, 12, 0))
