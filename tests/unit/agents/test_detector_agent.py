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
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
from faust.exceptions import AlreadyConfiguredWarning

from app.contracts.dead_letters import DeadLetter
from app.contracts.observations import OBSERVATION
from app.contracts.opportunities import OPPORTUNITY
from app.domain.markets import Market
from app.policy_config import configured_fx
from app.settings import get_settings
from tests.keepa_factory import keepa_product, message


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
    }
    with (
        patch.object(detector, "declare_all", AsyncMock()),
        # Opportunity events are published, then awaited until the broker confirms them.
        patch.object(detector.opportunities, "publish_message", mocks["opportunities"]),
        patch.object(detector.observations, "send", mocks["observations"]),
        patch.object(detector.keepa_products_dlq, "send", mocks["dlq"]),
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
