"""Gap filling's choice of what to publish, from Keepa's real queue JSON read through the
tracking client (Keepa faked at the HTTP boundary)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import responses

from app.contracts.keepa_notifications import KeepaNotification
from app.ingest.gapfill import SETTLE, GapFillReport, select_missing
from app.keepa.client import KeepaProductClient
from app.keepa.tracking.client import KeepaTrackingClient
from tests.unit.keepa.keepa_fakes import API_KEY, BASE_URL, load_json

#: The queue file's notifications were created at 2025-03-14 06:00, 08:51 and 09:07 UTC.
READ_AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture
def queue() -> tuple[KeepaNotification, ...]:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE_URL}/tracking", json=load_json("notification_queue_response.json"))
        with KeepaProductClient(API_KEY, base_url=BASE_URL) as http:
            read = KeepaTrackingClient(http).notifications(0, revise=True, received_at=READ_AT)
    return read.notifications


def test_what_was_received_is_left_out_and_the_rest_goes_oldest_first(
    queue: tuple[KeepaNotification, ...],
) -> None:
    out_of_stock, desired, expired = queue  # Keepa's order: newest first
    ready, read, known, settling = select_missing(
        queue, {desired.notification_id}, READ_AT - SETTLE
    )
    assert [n.notification_id for n in ready] == [
        expired.notification_id,
        out_of_stock.notification_id,
    ]
    assert {n.source for n in ready} == {"queue"}
    assert (read, known, settling) == (3, 1, 0)


def test_a_notification_listed_twice_counts_once(queue: tuple[KeepaNotification, ...]) -> None:
    ready, read, known, _ = select_missing(queue + queue, set(), READ_AT - SETTLE)
    assert (len(ready), read, known) == (3, 3, 0)


def test_too_young_notifications_wait_for_the_next_run(
    queue: tuple[KeepaNotification, ...],
) -> None:
    out_of_stock = queue[0]
    ready, _, _, settling = select_missing(
        queue, set(), out_of_stock.created_at - timedelta(minutes=1)
    )
    assert out_of_stock not in ready
    assert (len(ready), settling) == (2, 1)


def test_everything_received_publishes_nothing(queue: tuple[KeepaNotification, ...]) -> None:
    ready, read, known, settling = select_missing(
        queue, {n.notification_id for n in queue}, READ_AT
    )
    assert (ready, read, known, settling) == ([], 3, 3, 0)


def test_report_lines() -> None:
    report = GapFillReport(
        since=READ_AT - timedelta(hours=24),
        watermark=READ_AT - SETTLE,
        read=3,
        already_received=1,
        published=2,
        rejected=1,
        left_to_settle=0,
        tokens_consumed=0,
        tokens_left=1180,
        refill_rate=19,
    )
    assert report.lines() == [
        "queue read since 2025-03-13T09:30:00Z (revise=1): 3 notifications, 1 rejected",
        "already received: 1; published: 2 to keepa.notifications; left for the next run "
        "(under 60 s old): 0",
        "tokens: 0 consumed, 1180 left, refill 19/min",
        "watermark: 2025-03-14T09:29:00Z",
    ]
