"""The ingestion's side of keepa.fetch_requests (pure part): the pairs it plans first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.contracts.fetch_requests import FetchRequest
from app.domain.markets import Market
from app.ingest.fetch_requests import requested_pairs

AT = datetime(2025, 3, 14, 9, 12, tzinfo=UTC)


def _request(asin: str, market: Market, minutes: int) -> FetchRequest:
    return FetchRequest(
        asin=asin,
        market=market,
        reason="notification_without_quote",
        requested_at=AT + timedelta(minutes=minutes),
    )


def test_the_oldest_request_is_planned_first() -> None:
    requests = [
        _request("B0FETCH002", Market.FR, 5),
        _request("B0FETCH001", Market.GB, 1),
        _request("B0FETCH003", Market.DE, 1),
    ]
    assert requested_pairs(requests) == [
        ("B0FETCH001", "GB"),
        ("B0FETCH003", "DE"),
        ("B0FETCH002", "FR"),
    ]
