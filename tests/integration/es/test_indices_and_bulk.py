"""The index contract and the bulk writer against the real local Elasticsearch node."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
from elasticsearch import AsyncElasticsearch, Elasticsearch

from app.contracts.opportunities import OpportunityMessage
from app.domain.detection import OpportunityEvent, Pricing, detect
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.es.bulk import BulkWriter
from app.es.documents import opportunity_action, product_actions
from app.es.indices import (
    LOGICAL_INDICES,
    IndexContractError,
    ensure_indices,
    index_names,
    index_settings,
    mapping_for,
    refresh_interval_for,
)
from app.settings import Settings
from tests.keepa_factory import make_quote
from tests.session_resources import Owned, delete_indices

# Async fixtures run in the session event loop (asyncio_default_fixture_loop_scope); the
# tests must share it, or the clients' aiohttp sessions would cross event loops.
pytestmark = pytest.mark.asyncio(loop_scope="session")

POLICY = DetectionPolicy()
FX = FxRates(eur_per_gbp=Decimal("1.17"), as_of=datetime(2025, 3, 1, tzinfo=UTC))
PRICING = Pricing(FX, DEFAULT_PROFILE, "v-test", default_fee_schedule())
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def es_settings(es: Elasticsearch, settings: Settings, unique: str) -> Iterator[Settings]:
    """Settings whose indices are ``<unique>-*``; deleted after the test."""
    yield settings.model_copy(update={"elasticsearch_index_prefix": f"{unique}-"})
    delete_indices(es, Owned.indices_under(f"{unique}-"))


@pytest.fixture
async def aes(settings: Settings, es: Elasticsearch) -> AsyncIterator[AsyncElasticsearch]:
    client = AsyncElasticsearch(settings.elasticsearch_url, request_timeout=30)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def ready(aes: AsyncElasticsearch, es_settings: Settings) -> Settings:
    await ensure_indices(aes, es_settings)
    return es_settings


def writer(client: AsyncElasticsearch, **kwargs: Any) -> BulkWriter:
    return BulkWriter(client, refresh="wait_for", **kwargs)


def opportunity_events() -> tuple[OpportunityEvent, OpportunityEvent]:
    """DE -> FR opened at T0 (profit 637), closed at T0+4h (92 < 500).

    Default profile on 2025-03-01 (DE-established: DSF 2 % on FR), FR card 425, storage (FR,
    March, 0.0015 m3 x 2865 = 4.2975 -> 4), inbound 510, net buy 2000 / 1.19 -> 1681:
      FR 48.00: 4000 - 720 - 425 - (14 + 9) - 4 - 510 - 1681 = 637
      FR 40.00: 3333 - 600 - 425 - (12 + 9) - 4 - 510 - 1681 = 92
    """

    de = make_quote(market=Market.DE, amazon=2000, last_update=T0)
    fr = make_quote(market=Market.FR, buy_box=4800, last_update=T0)
    step = detect({Market.DE: de, Market.FR: fr}, {}, POLICY, PRICING, T0)
    [opened] = step.events
    later = T0 + 4 * HOUR
    fr_low = make_quote(market=Market.FR, buy_box=4000, last_update=later)
    step = detect({Market.DE: de, Market.FR: fr_low}, step.open, POLICY, PRICING, later)
    [closed] = step.events
    return opened, closed


def count(es: Elasticsearch, index: str) -> int:
    es.indices.refresh(index=index)
    return int(es.count(index=index)["count"])


# --- index contract ------------------------------------------------------------------------


async def test_ensure_indices_twice_is_idempotent_and_keeps_data(
    aes: AsyncElasticsearch, es: Elasticsearch, es_settings: Settings
) -> None:
    await ensure_indices(aes, es_settings)
    names = index_names(es_settings)
    assert set(names) == set(LOGICAL_INDICES)
    for name in names.values():
        assert es.indices.exists(index=name)
        mapping = es.indices.get_mapping(index=name)[name]["mappings"]
        assert mapping["dynamic"] == "strict"
        index = es.indices.get_settings(index=name)[name]["settings"]["index"]
        assert (index["number_of_shards"], index["number_of_replicas"]) == ("1", "0")
    refresh = {
        logical: es.indices.get_settings(index=name)[name]["settings"]["index"]["refresh_interval"]
        for logical, name in names.items()
    }
    # What a seller waits for is searchable within 100 ms; the bulk indices keep 1 s (the
    # episodes too: history, read for the detail view, never waited for).
    assert refresh == {
        "products": "1s",
        "price-history": "1s",
        "opportunities": "100ms",
        "watchlist": "1s",
        "opportunity-episodes": "1s",
    }

    watch = names["watchlist"]
    es.index(
        index=watch,
        id="B0TESTAS1N",
        document={"asin": "B0TESTAS1N", "markets": ["DE", "FR"], "priority": 2, "note": "x"},
        refresh="wait_for",
    )
    await ensure_indices(aes, es_settings)
    await asyncio.gather(*(ensure_indices(aes, es_settings) for _ in range(3)))
    assert count(es, watch) == 1
    assert es.get(index=watch, id="B0TESTAS1N")["_source"]["markets"] == ["DE", "FR"]


async def test_an_existing_index_gets_the_current_refresh_interval(
    aes: AsyncElasticsearch, es: Elasticsearch, es_settings: Settings
) -> None:
    """An index created by an older version (every index at 1 s) is brought to the current
    refresh interval by the next start, without a reindex and keeping its documents."""
    names = index_names(es_settings)
    name = names["opportunities"]
    es.indices.create(
        index=name,
        mappings=mapping_for("opportunities"),
        settings=index_settings(refresh_interval="1s"),
    )
    await ensure_indices(aes, es_settings)
    index = es.indices.get_settings(index=name)[name]["settings"]["index"]
    assert index["refresh_interval"] == refresh_interval_for("opportunities") == "100ms"


async def test_concurrent_creation_is_safe(
    aes: AsyncElasticsearch, es: Elasticsearch, es_settings: Settings
) -> None:
    await asyncio.gather(*(ensure_indices(aes, es_settings) for _ in range(4)))
    for name in index_names(es_settings).values():
        assert es.indices.exists(index=name)


async def test_conflicting_existing_mapping_is_reported_not_deleted(
    aes: AsyncElasticsearch, es: Elasticsearch, es_settings: Settings
) -> None:
    products = es_settings.index("products")
    es.indices.create(index=products, mappings={"properties": {"sales_rank": {"type": "text"}}})
    es.index(index=products, id="x", document={"sales_rank": "high"}, refresh="wait_for")
    with pytest.raises(IndexContractError, match="reindex needed"):
        await ensure_indices(aes, es_settings)
    assert count(es, products) == 1


async def test_an_older_mapping_gets_the_new_fields_added(
    aes: AsyncElasticsearch, es: Elasticsearch, es_settings: Settings
) -> None:
    watch = es_settings.index("watchlist")
    es.indices.create(
        index=watch, mappings={"dynamic": "strict", "properties": {"asin": {"type": "keyword"}}}
    )
    es.index(index=watch, id="B0TESTAS1N", document={"asin": "B0TESTAS1N"}, refresh="wait_for")
    await ensure_indices(aes, es_settings)
    properties = es.indices.get_mapping(index=watch)[watch]["mappings"]["properties"]
    assert properties["priority"] == {"type": "integer"}
    assert count(es, watch) == 1


async def test_strict_mapping_rejects_unknown_fields(
    aes: AsyncElasticsearch, es: Elasticsearch, ready: Settings
) -> None:
    quote = make_quote(amazon=2000, buy_box=2400)
    product, history = product_actions(quote, FX, ready.index)
    bad = {**product, "_id": "B0TESTAS1N:FR", "_source": {**product["_source"], "colour": "red"}}
    history["_source"]["prices"]["USED"] = 1500  # the prices object maps new types to long

    result = await writer(aes).write([bad, history])

    assert result.indexed == 1
    [(action, reason)] = result.rejected
    assert action["_id"] == "B0TESTAS1N:FR"
    assert "strict_dynamic_mapping_exception" in reason
    assert result.retries == 0
    hist_index = ready.index("price-history")
    mapping = es.indices.get_mapping(index=hist_index)[hist_index]["mappings"]
    assert mapping["properties"]["prices"]["properties"]["USED"] == {"type": "long"}


# --- writes --------------------------------------------------------------------------------


async def test_writing_the_same_actions_twice_leaves_one_document(
    aes: AsyncElasticsearch, es: Elasticsearch, ready: Settings
) -> None:
    quote = make_quote(market=Market.GB, amazon=1999, buy_box=2500)
    opened, _ = opportunity_events()
    actions = [
        *product_actions(quote, FX, ready.index),
        opportunity_action(OpportunityMessage.from_event(opened), ready.index),
    ]

    first = await writer(aes).write(actions)
    again = await writer(aes).write(actions)

    assert (first.indexed, first.stale, first.rejected) == (3, 0, [])
    # products/opportunities: equal external version rewrites; price-history: create -> 409
    assert (again.indexed, again.stale, again.rejected) == (2, 1, [])
    for logical in ("products", "price-history", "opportunities"):
        assert count(es, ready.index(logical)) == 1
    doc = es.get(index=ready.index("products"), id="B0TESTAS1N:GB")
    assert doc["_version"] == int(quote.observed_at.timestamp() * 1000)
    assert doc["_source"]["buy_price_eur_cents"] == 2339
    opp = es.get(index=ready.index("opportunities"), id="B0TESTAS1N:DE:FR")["_source"]
    assert (opp["state"], opp["profit_eur_cents"], opp["closed_at"]) == ("open", 637, None)


async def test_an_older_observation_does_not_overwrite_a_newer_one(
    aes: AsyncElasticsearch, es: Elasticsearch, ready: Settings
) -> None:
    newer = make_quote(amazon=1900, last_update=T0 + HOUR)
    older = make_quote(amazon=2000, last_update=T0, fetched_at=T0 + 2 * HOUR)
    opened, closed = opportunity_events()
    w = writer(aes)

    await w.write(
        [
            *product_actions(newer, FX, ready.index),
            opportunity_action(OpportunityMessage.from_event(closed), ready.index),
        ]
    )
    late = await w.write(
        [
            *product_actions(older, FX, ready.index),
            opportunity_action(OpportunityMessage.from_event(opened), ready.index),
        ]
    )

    # the stale product and the stale opportunity are refused; the older history point is new
    assert (late.indexed, late.stale, late.rejected) == (1, 2, [])
    product = es.get(index=ready.index("products"), id="B0TESTAS1N:DE")["_source"]
    assert product["buy_price_minor"] == 1900
    assert product["observed_at"] == "2025-03-01T13:00:00Z"
    assert count(es, ready.index("price-history")) == 2
    opp = es.get(index=ready.index("opportunities"), id="B0TESTAS1N:DE:FR")["_source"]
    assert (opp["state"], opp["reason"]) == ("closed", "below_threshold")
    assert opp["closed_at"] == "2025-03-01T16:00:00Z"
    assert opp["opened_at"] == "2025-03-01T12:00:00Z"
    assert w.stats.docs_stale == 2


async def test_a_wrong_type_is_rejected_not_retried_and_the_rest_is_indexed(
    aes: AsyncElasticsearch, es: Elasticsearch, ready: Settings
) -> None:
    opened, _ = opportunity_events()
    good = opportunity_action(OpportunityMessage.from_event(opened), ready.index)
    message = OpportunityMessage.from_event(opened)
    to_it = msgspec.structs.replace(message, sell_market=Market.IT, route="DE:IT")
    to_es = msgspec.structs.replace(message, sell_market=Market.ES, route="DE:ES")
    other = opportunity_action(to_it, ready.index)
    bad = opportunity_action(to_es, ready.index)
    bad["_source"]["profit_eur_cents"] = "abc"
    quote_actions = product_actions(make_quote(amazon=2000), FX, ready.index)

    w = writer(aes)
    result = await w.write([good, bad, other, *quote_actions])

    assert result.indexed == 4
    [(action, reason)] = result.rejected
    assert action["_id"] == "B0TESTAS1N:DE:ES"
    assert reason.startswith("400 document_parsing_exception")
    assert "profit_eur_cents" in reason
    assert (result.retries, result.attempts) == (0, 1)
    assert count(es, ready.index("opportunities")) == 2
    assert w.stats.to_dict()["docs_rejected_total"] == 1


# --- outage --------------------------------------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the Elasticsearch node; can be stopped and restarted.

    Stopping closes the listener AND every open connection, like a node going away.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = _free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._track(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._track(up_writer)
        self._spawn(self._pipe(reader, up_writer))
        self._spawn(self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    def _track(self, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def proxy(settings: Settings, es: Elasticsearch) -> AsyncIterator[TcpProxy]:
    url = urlsplit(settings.elasticsearch_url)
    p = TcpProxy(url.hostname or "127.0.0.1", url.port or 9200)
    try:
        yield p
    finally:
        await p.stop()


def many_quotes(n: int, at: datetime) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    for i in range(n):
        quote = make_quote(f"B0OUTAGE{i:02d}", amazon=2000 + i, last_update=at)
        actions.extend(product_actions(quote, FX))
    return actions


def prefixed(actions: list[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    return [{**a, "_index": settings.index(a["_index"])} for a in actions]


async def _write_through_outage(
    proxy: TcpProxy, ready: Settings, actions: list[dict[str, Any]], down_for: float
) -> tuple[Any, BulkWriter]:
    client = AsyncElasticsearch(f"http://127.0.0.1:{proxy.port}", request_timeout=10)
    try:
        w = BulkWriter(client, backoff_base_s=0.5, backoff_max_s=2.0, refresh="wait_for")
        task = asyncio.create_task(w.write(actions))
        await asyncio.sleep(down_for)
        assert not task.done(), "the write must wait for Elasticsearch, not give up"
        await proxy.start()
        result = await asyncio.wait_for(task, timeout=60)
        return result, w
    finally:
        await client.close()


async def test_a_write_started_while_elasticsearch_is_down_arrives_once_it_is_back(
    proxy: TcpProxy, es: Elasticsearch, ready: Settings
) -> None:
    actions = prefixed(many_quotes(20, T0), ready)

    result, w = await _write_through_outage(proxy, ready, actions, down_for=3.0)

    assert (result.indexed, result.stale, result.rejected, result.pending) == (40, 0, [], [])
    assert result.retries > 0
    assert result.attempts == result.retries + 1
    assert count(es, ready.index("products")) == 20
    assert count(es, ready.index("price-history")) == 20
    stats = w.stats.to_dict()
    assert stats["retries_total"] == result.retries
    assert stats["last_error"].startswith("Connection")
    assert stats["last_error_at"] is not None


async def test_an_outage_between_writes_cuts_open_connections_and_is_survived(
    proxy: TcpProxy, es: Elasticsearch, ready: Settings
) -> None:
    await proxy.start()
    client = AsyncElasticsearch(f"http://127.0.0.1:{proxy.port}", request_timeout=10)
    try:
        w = BulkWriter(client, backoff_base_s=0.5, backoff_max_s=2.0, refresh="wait_for")
        first = await w.write(prefixed(many_quotes(5, T0), ready))
        assert (first.indexed, first.retries) == (10, 0)

        await proxy.stop()  # kills the pooled keep-alive connections too
        later = prefixed(many_quotes(5, T0 + HOUR), ready)
        task = asyncio.create_task(w.write(later))
        await asyncio.sleep(3.0)
        assert not task.done()
        await proxy.start()
        second = await asyncio.wait_for(task, timeout=60)
    finally:
        await client.close()

    assert (second.indexed, second.rejected) == (10, [])
    assert second.retries > 0
    assert count(es, ready.index("products")) == 5
    assert count(es, ready.index("price-history")) == 10
    doc = es.get(index=ready.index("products"), id="B0OUTAGE00:DE")["_source"]
    assert doc["observed_at"] == "2025-03-01T13:00:00Z"
    assert w.stats.docs_indexed == 20


async def test_stop_during_an_outage_returns_the_pending_actions(
    proxy: TcpProxy, ready: Settings
) -> None:
    client = AsyncElasticsearch(f"http://127.0.0.1:{proxy.port}", request_timeout=10)
    try:
        stop = asyncio.Event()
        w = BulkWriter(client, stop=stop, backoff_base_s=0.5, backoff_max_s=2.0)
        actions = prefixed(many_quotes(3, T0), ready)
        task = asyncio.create_task(w.write(actions))
        await asyncio.sleep(1.5)
        stop.set()
        result = await asyncio.wait_for(task, timeout=15)
    finally:
        await client.close()
    assert result.stopped
    assert result.pending == actions
    assert result.indexed == 0
