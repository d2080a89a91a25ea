"""keepa.fetch_requests: the request and how the topic's records fold into the pending ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from app.contracts.fetch_requests import FETCH_REQUEST, FetchRequest, pending_requests
from app.domain.markets import Market

AT = datetime(2025, 3, 14, 9, 12, tzinfo=UTC)


def request(asin: str, market: Market, minutes: int = 0) -> tuple[bytes, bytes]:
    value = FetchRequest(
        asin=asin,
        market=market,
        reason="notification_without_quote",
        notification_id="ab" * 16,
        requested_at=AT + timedelta(minutes=minutes),
    )
    return asin.encode(), FETCH_REQUEST.encode(value)


def test_the_latest_record_of_each_asin_is_pending_unless_it_is_a_tombstone() -> None:
    records: list[tuple[bytes | None, bytes | None]] = [
        request("B0FETCH001", Market.FR),
        request("B0FETCH002", Market.DE),
        request("B0FETCH001", Market.GB, 5),  # replaces the FR request
        (b"B0FETCH002", None),  # done
        request("B0FETCH003", Market.IT, 1),
    ]
    pending = pending_requests(records)
    assert {asin: r.market for asin, r in pending.items()} == {
        "B0FETCH001": Market.GB,
        "B0FETCH003": Market.IT,
    }
    assert pending["B0FETCH003"].requested_at == AT + timedelta(minutes=1)
    # Asked again after it was done: pending again.
    again = pending_requests([*records, request("B0FETCH002", Market.ES, 9)])
    assert again["B0FETCH002"].market is Market.ES


def test_a_record_that_is_no_request_for_its_key_leaves_the_key_without_one() -> None:
    _, value = request("B0FETCH001", Market.FR)
    records: list[tuple[bytes | None, bytes | None]] = [
        request("B0FETCH001", Market.FR),
        (b"B0FETCH001", b"{broken"),
        (b"B0FETCH004", value),  # the key is not the request's ASIN
        (None, value),
        (b"B0FETCH005", orjson.dumps({"schema_version": 2})),
    ]
    assert pending_requests(records) == {}
