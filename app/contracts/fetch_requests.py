"""``keepa.fetch_requests``: an ASIN the ingestion should fetch in its next run (issue 11).

Key: the ASIN. Compacted, one partition. The detector publishes a :class:`FetchRequest` when
a Keepa notification arrives for a market of which it holds no quote of the ASIN: the
notification's prices alone make no quote (no fees, dimensions, category), so a normal fetch
of the ASIN on that market is asked for instead. The ingestion planner reads the topic to
its end (:func:`pending_requests`), puts the requested (ASIN, market) pairs first in its
next run and, once a pair's products are published, marks the request done with a
tombstone (the key with a null value), which compaction then removes.

Only the latest record of a key counts: a second request for the same ASIN (another market)
replaces the first one. The first market is then fetched by the regular schedule, which
fetches a never-fetched watchlist pair early anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Final, Literal

from app.contracts.base import (
    Asin,
    Codec,
    ContractError,
    Message,
    UtcDatetime,
    Version1,
    describe,
)
from app.domain.markets import Market

__all__ = ["FETCH_REQUEST", "FETCH_REQUESTS_TOPIC", "FetchRequest", "pending_requests"]

#: The topic's default name (before ``TOPIC_PREFIX``).
FETCH_REQUESTS_TOPIC: Final = "keepa.fetch_requests"

FetchReason = Literal["notification_without_quote"]


class FetchRequest(Message, kw_only=True, frozen=True):
    """Fetch ``asin`` on ``market`` in the next ingestion run."""

    schema_version: Annotated[Version1, describe("1")] = 1
    asin: Asin
    market: Annotated[Market, describe("the market to fetch the ASIN on")]
    reason: Annotated[
        FetchReason,
        describe("notification_without_quote: a Keepa notification for a market with no quote"),
    ]
    notification_id: Annotated[
        str | None, describe("the notification that asked for it (keepa.notifications)")
    ] = None
    requested_at: Annotated[
        UtcDatetime, describe("when the cause arrived (the notification's received_at)")
    ]


FETCH_REQUEST: Final = Codec(FetchRequest)


def pending_requests(messages: Iterable[tuple[bytes | None, Any]]) -> dict[str, FetchRequest]:
    """The requests still to be served, by ASIN, from the topic's ``(key, value)`` records in
    offset order: the latest record of each key, when it is a request. A tombstone (done),
    and a record that is not a request or whose key is not its ASIN (it cannot be served and
    must not stop the planner), leave the key without one."""
    pending: dict[str, FetchRequest] = {}
    for key, value in messages:
        if key is None:
            continue
        asin = key.decode("utf-8", "replace")
        pending.pop(asin, None)
        if value is None:
            continue
        try:
            request = FETCH_REQUEST.decode(value)
        except ContractError:
            continue
        if request.asin == asin:
            pending[asin] = request
    return pending
