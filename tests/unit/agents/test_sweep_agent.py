"""One tick of the sweep (``agents.sweep.sweep_once``) over memory tables (no broker): which
requests it publishes for which ASINs, and that it does not send them again while pending.

The table values are put into the stores directly (a write through the table needs the
current event of the agent that owns the key); the same flows run on the real broker with
RocksDB in tests/integration/test_reevaluation.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest

from app.contracts.reevaluations import REEVALUATION
from app.contracts.tables import OPEN_ROUTES_STATE, QUOTES_STATE, OpenRoutesState, QuotesState
from app.domain.asin_state import apply_quote
from app.domain.detection import Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from tests.keepa_factory import make_quote
from tests.unit.agents.test_detector_agent import memory_tables

__all__ = ["memory_tables"]

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = DetectionPolicy()
CURRENT, OLD = "B0SWEEPCUR", "B0SWEEPOLD"
OURS = {CURRENT, OLD}


def _opened(asin: str, version: str) -> tuple[bytes, bytes]:
    pricing = Pricing(
        FxRates(Decimal("1.17"), T0), DEFAULT_PROFILE, version, default_fee_schedule()
    )
    de = make_quote(asin, Market.DE, amazon=2000, last_update=T0)
    fr = make_quote(asin, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0)
    step = apply_quote(fr, apply_quote(de, {}, {}, POLICY, pricing).quotes, {}, POLICY, pricing)
    assert step.open
    quotes = QUOTES_STATE.encode(QuotesState(quotes=step.quotes, profile_version=version))
    return quotes, OPEN_ROUTES_STATE.encode(OpenRoutesState(routes=step.open))


@pytest.fixture
def published(memory_tables: None) -> Iterator[AsyncMock]:
    from agents import sweep

    mock = AsyncMock()
    with (
        patch.object(sweep.reevaluations, "publish_message", mock),
        patch.object(sweep, "_ready", lambda: True),
        patch.object(sweep, "_swept", None),
        patch.object(sweep, "PENDING", sweep.PendingRequests(ttl=60)),
    ):
        yield mock


def _requests(mock: AsyncMock) -> list[Any]:
    """The requests published for this test's ASINs (the memory tables are shared with the
    detector agent's tests of the same session)."""
    found = []
    for call in mock.await_args_list:
        assert call.kwargs == {"wait": True}, "a request must be confirmed by the broker"
        message = call.args[0].message
        request = REEVALUATION.decode(message.value)
        assert message.key == request.asin.encode()
        if request.asin in OURS:
            found.append(request)
    return found


async def test_a_tick_requests_the_asins_of_another_profile_and_those_gone_stale(
    published: AsyncMock,
) -> None:
    from agents import sweep
    from tables.open_opportunities import open_opportunities_table
    from tables.quotes import quotes_table
    from tables.seller_profile import profile_state

    in_force = profile_state().version
    current, old = CURRENT, OLD
    for asin, version in ((current, in_force), (old, "0000000000000000")):
        quotes, open_routes = _opened(asin, version)
        quotes_table.data[asin.encode()] = quotes
        open_opportunities_table.data[asin.encode()] = open_routes
    try:
        # Within 24 h of the quotes (T0): only the ASIN evaluated with another profile.
        now = T0 + timedelta(hours=24)
        await sweep.sweep_once(now, monotonic=0.0)
        first = _requests(published)
        assert [(r.asin, r.reason, r.profile_version) for r in first] == [
            (old, "profile_changed", in_force)
        ]
        assert first[0].as_of == now
        # A second later both open routes' quotes are stale; the profile was swept already.
        published.reset_mock()
        later = now + timedelta(seconds=1)
        await sweep.sweep_once(later, monotonic=1.0)
        assert sorted((r.asin, r.reason) for r in _requests(published)) == [
            (current, "wall_clock"),
            (old, "wall_clock"),
        ]
        # The next tick: still stale, but the requests are pending, nothing is sent again...
        published.reset_mock()
        await sweep.sweep_once(later + timedelta(seconds=10), monotonic=11.0)
        assert _requests(published) == []
        # ... until they expire (no answer seen within the ttl).
        await sweep.sweep_once(later + timedelta(seconds=61), monotonic=62.0)
        assert len(_requests(published)) == 2
    finally:
        for table in (quotes_table, open_opportunities_table):
            for asin in (current, old):
                table.data.pop(asin.encode(), None)
