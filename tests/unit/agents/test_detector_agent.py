"""The detector agent's logic in Faust's test_context (memory tables, no broker).

The in-process app is given the memory store through its own configuration, not through
``FAUST_STORE`` in ``os.environ`` (which every later test, and every worker process they
start, would inherit). Outgoing sends are captured at the topic boundary; the same flows run
on the real broker, with RocksDB, in tests/integration/test_topology.py.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import AsyncMock, patch

import msgspec
import pytest
from faust.exceptions import AlreadyConfiguredWarning

from app.contracts.dead_letters import DeadLetter
from app.contracts.fetch_requests import FETCH_REQUEST
from app.contracts.keepa_notifications import NotificationCause
from app.contracts.observations import OBSERVATION
from app.contracts.opportunities import OPPORTUNITY
from app.domain.keepa_prices import PriceType
from app.domain.markets import Market
from app.policy_config import configured_fx
from app.settings import get_settings
from tests.keepa_factory import keepa_notification, keepa_product, message, notification_message


@pytest.fixture
def memory_tables() -> Iterator[None]:
    from app.faust_app import app

    configured = app.conf.store
    # Faust warns that the setting was read already (it was: when the app was built); no table
    # has opened its store yet, and the assertion below checks they all took this one.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlreadyConfiguredWarning)
        app.conf.store = "memory://"
    app.finalize()
    app.flow_control.resume()
    yield
    assert {type(t.data).__module__ for t in app.tables.values()} == {"faust.stores.memory"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlreadyConfiguredWarning)
        app.conf.store = configured


@pytest.fixture
def captured() -> Iterator[dict[str, AsyncMock]]:
    from agents import detector

    def confirmed(message: Any, wait: bool = False) -> asyncio.Future[None]:
        # What the broker gives back for a message published without waiting: a future that
        # its acknowledgement completes (here at once).
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    mocks = {
        "opportunities": AsyncMock(side_effect=confirmed),
        "observations": AsyncMock(),
        "dlq": AsyncMock(),
        "fetch_requests": AsyncMock(side_effect=confirmed),
        "notifications_dlq": AsyncMock(),
    }
    with (
        patch.object(detector, "declare_all", AsyncMock()),
        # Opportunity events are published, then awaited until the broker confirms them.
        patch.object(detector.opportunities, "publish_message", mocks["opportunities"]),
        patch.object(detector.observations, "send", mocks["observations"]),
        patch.object(detector.keepa_products_dlq, "send", mocks["dlq"]),
        # Fetch requests too (confirmed before the batch is acknowledged).
        patch.object(detector.fetch_requests, "publish_message", mocks["fetch_requests"]),
        patch.object(detector.keepa_notifications_dlq, "send", mocks["notifications_dlq"]),
    ):
        yield mocks


def _sent(mock: AsyncMock) -> list[Any]:
    """The values sent: ``send(key=, value=)``, or ``publish_message(message, wait=False)``
    (the batch's events are sent together, then their confirmations awaited together)."""
    values = []
    for call in mock.await_args_list:
        if "value" in call.kwargs:
            values.append(call.kwargs["value"])
        else:
            assert call.kwargs == {"wait": False}
            values.append(call.args[0].message.value)
    return values


async def test_a_spread_opens_on_the_completing_event_and_bad_input_is_dead_lettered(
    memory_tables: None, captured: dict[str, AsyncMock]
) -> None:
    from agents.detector import detect_opportunities

    de_key, de_value = message(keepa_product("B0AGENT001", Market.DE, amazon=2000))
    fr_key, fr_value = message(
        keepa_product("B0AGENT001", Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0)
    )
    async with detect_opportunities.test_context() as agent:
        await agent.put(key=de_key, value=de_value)
        assert _sent(captured["opportunities"]) == []
        await agent.put(key=b"B0AGENT001", value=b"{broken")
        await agent.put(key=b"B0AGENT001", value=b'{"schema_version": 2, "domain": "DE"}')
        await agent.put(key=fr_key, value=fr_value)
    events = [OPPORTUNITY.decode(value) for value in _sent(captured["opportunities"])]
    # Default profile on 2025-03-01 (DE-established: DSF 2 % on FR): net sell 5000 / 1.20 ->
    # 4167, referral 750, FBA 300, DSF 15 + 6, inbound 510, net buy 2000 / 1.19 -> 1681:
    # storage (FR, March, 200 x 150 x 50 mm = 0.0015 m3) 2865 x 0.0015 = 4.2975 -> 4:
    # 4167 - 750 - 300 - 21 - 4 - 510 - 1681 = 901
    assert [(e.event, e.route, e.profit_eur_cents) for e in events] == [("opened", "DE:FR", 901)]
    observations = [OBSERVATION.decode(value) for value in _sent(captured["observations"])]
    assert [o.market for o in observations] == [Market.DE, Market.FR]
    # Each observation carries the rate its routes were evaluated with (none published yet:
    # the configured one), so the sink stamps products and history with exactly that rate.
    fallback = configured_fx(get_settings())
    assert [o.fx_rates() for o in observations] == [fallback, fallback]
    assert events[0].fx_eur_per_gbp == fallback.eur_per_gbp
    dlq = captured["dlq"].await_args_list
    assert [call.kwargs["value"] for call in dlq] == [
        b"{broken",
        b'{"schema_version": 2, "domain": "DE"}',
    ]
    letters = [DeadLetter.from_headers(call.kwargs["headers"]) for call in dlq]
    assert [letter.reason for letter in letters] == ["malformed_json", "unsupported_version"]
    assert "schema_version 2 is not supported" in letters[1].error


async def _put_notification(agent: Any, key: bytes, value: bytes) -> None:
    """Put a message as if read from ``keepa.notifications`` (the test wrapper names every
    message after the agent's channel, which for the detector's three topics is none)."""
    from app.topics import KEEPA_NOTIFICATIONS

    with patch.object(agent, "_get_strtopic", lambda channel: KEEPA_NOTIFICATIONS):
        await agent.put(key=key, value=value)


async def test_a_notification_is_merged_into_the_stored_quote_like_a_product(
    memory_tables: None, captured: dict[str, AsyncMock]
) -> None:
    from agents.detector import detect_opportunities
    from app.metrics import metrics

    asin = "B0AGENTN01"
    at = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    de = message(keepa_product(asin, Market.DE, amazon=2000))
    fr = message(keepa_product(asin, Market.FR, buy_box=3000, fba_fee=300, referral_pct=15.0))
    # The FR buy box rises to 50.00 (the product test above: opens DE -> FR at 901 cents);
    # no data (-2) for every other price type: the stored FR quote keeps its fees and the rest.
    crossing = keepa_notification(
        asin, Market.FR, {PriceType.BUY_BOX_SHIPPING: 5000}, created_at=at
    )
    # Another cause, same minute, same prices: changes nothing (a duplicate).
    same_prices = keepa_notification(
        asin, Market.FR, {PriceType.BUY_BOX_SHIPPING: 5000}, created_at=at,
        cause=NotificationCause.PRICE_CHANGE_AFTER_DESIRED_PRICE,
    )  # fmt: skip
    older = keepa_notification(
        asin, Market.FR, {PriceType.BUY_BOX_SHIPPING: 2000}, created_at=at - timedelta(hours=1)
    )
    expired = keepa_notification(asin, Market.FR, cause=NotificationCause.EXPIRED, created_at=at)
    unknown_market = keepa_notification(
        asin, Market.GB, {PriceType.BUY_BOX_SHIPPING: 4000}, created_at=at
    )
    before = dict(metrics.counters)
    async with detect_opportunities.test_context() as agent:
        await agent.put(key=de[0], value=de[1])
        await agent.put(key=fr[0], value=fr[1])
        assert _sent(captured["opportunities"]) == []
        await _put_notification(agent, *notification_message(crossing))
        await _put_notification(agent, *notification_message(crossing))  # Keepa's retry
        for other in (same_prices, older, expired, unknown_market):
            await _put_notification(agent, *notification_message(other))
        await _put_notification(agent, b"B0OTHER001", notification_message(crossing)[1])
        await _put_notification(agent, asin.encode(), b"{broken")

    [opened] = [OPPORTUNITY.decode(value) for value in _sent(captured["opportunities"])]
    assert (opened.event, opened.route, opened.profit_eur_cents) == ("opened", "DE:FR", 901)
    assert opened.sell_price_minor == 5000
    assert (opened.sell_observed_at, opened.event_time) == (at, at)
    assert not isinstance(opened.quote_sources, msgspec.UnsetType)
    assert opened.quote_sources.buy.source == "product"
    assert opened.quote_sources.sell.source == "notification"
    assert opened.quote_sources.sell.notification_id == crossing.notification_id
    # The stored quote's listing facts went on with the merged quote.
    assert (opened.sales_rank, opened.root_category) == (1234, 3167641)
    # One observation per product and one for the merged notification: none for the retry,
    # the duplicate, the older and the expired notifications.
    observations = [OBSERVATION.decode(value) for value in _sent(captured["observations"])]
    assert [(o.market, o.source) for o in observations] == [
        (Market.DE, "product"),
        (Market.FR, "product"),
        (Market.FR, "notification"),
    ]
    merged = observations[-1]
    assert (merged.notification_id, merged.observed_at) == (crossing.notification_id, at)
    assert (merged.sell_price, merged.fba_fee, merged.package_weight_g) == (5000, 300, 500)
    assert merged.fetched_at == crossing.received_at
    # GB has no stored quote: a normal fetch is asked for, confirmed by the broker.
    [request] = [FETCH_REQUEST.decode(value) for value in _sent(captured["fetch_requests"])]
    assert (request.asin, request.market, request.reason) == (
        asin, Market.GB, "notification_without_quote",
    )  # fmt: skip
    assert request.notification_id == unknown_market.notification_id
    assert request.requested_at == unknown_market.received_at
    dead = captured["notifications_dlq"].await_args_list
    letters = [DeadLetter.from_headers(call.kwargs["headers"]) for call in dead]
    assert [letter.reason for letter in letters] == ["asin_mismatch", "malformed_json"]
    assert [call.kwargs["value"] for call in dead][1] == b"{broken"
    counted = {
        name: metrics.counters[name] - before.get(name, 0)
        for name in (
            "keepa_notifications",
            "notifications_merged",
            "notifications_duplicate",
            "notifications_out_of_order",
            "notifications_expired",
            "notifications_no_quote",
            "fetch_requests",
        )
    }
    assert counted == {
        "keepa_notifications": 8,
        "notifications_merged": 1,
        "notifications_duplicate": 2,
        "notifications_out_of_order": 1,
        "notifications_expired": 1,
        "notifications_no_quote": 1,
        "fetch_requests": 1,
    }
