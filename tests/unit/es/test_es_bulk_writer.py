"""BulkWriter against a scripted fake client: classification, retries, backoff, stop, stats."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from elastic_transport import (
    ApiResponseMeta,
    ConnectionError,
    ConnectionTimeout,
    HttpHeaders,
    NodeConfig,
    SerializerCollection,
)
from elasticsearch import ApiError
from elasticsearch.serializer import DEFAULT_SERIALIZERS

from app.es.bulk import BulkWriter

# A step answers one bulk call: an exception to raise, or id -> status (default 201).
Step = BaseException | dict[str, int]


def api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "localhost", 9200),
    )
    return ApiError(f"HTTP {status}", meta=meta, body={"error": {"type": "boom"}})


ERRORS = {
    400: {"type": "document_parsing_exception", "reason": "failed to parse field"},
    409: {"type": "version_conflict_engine_exception", "reason": "current version is higher"},
    429: {"type": "es_rejected_execution_exception", "reason": "queue full"},
    503: {"type": "unavailable_shards_exception", "reason": "primary shard is not active"},
}


@dataclass
class FakeClient:
    """Just enough of AsyncElasticsearch for ``async_streaming_bulk``."""

    steps: list[Step]
    calls: list[list[str]] = field(default_factory=list)
    kwargs: list[dict[str, Any]] = field(default_factory=list)
    transport: Any = field(
        default_factory=lambda: SimpleNamespace(
            serializers=SerializerCollection(DEFAULT_SERIALIZERS)
        )
    )
    _client_meta: Any = None
    in_flight: int = 0
    max_in_flight: int = 0

    def options(self, **_: Any) -> FakeClient:
        return self

    async def bulk(self, *, operations: list[bytes], **kwargs: Any) -> Any:
        lines = [json.loads(line) for line in operations]
        headers = lines[0::2]  # every test action has a body
        ids = [next(iter(h.values()))["_id"] for h in headers]
        self.calls.append(ids)
        self.kwargs.append(kwargs)
        step = self.steps.pop(0) if self.steps else {}
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001)  # the answer takes a moment: requests may overlap
        finally:
            self.in_flight -= 1
        if isinstance(step, BaseException):
            raise step
        items = []
        for header, doc_id in zip(headers, ids, strict=True):
            op = next(iter(header))
            status = step.get(doc_id, 201)
            item: dict[str, Any] = {"_index": "i", "_id": doc_id, "status": status}
            if status >= 300:
                item["error"] = ERRORS.get(status, {"type": "other", "reason": "?"})
            items.append({op: item})
        errors = any(s >= 300 for s in step.values())
        return SimpleNamespace(body={"errors": errors, "items": items})


def action(doc_id: str, **source: Any) -> dict[str, Any]:
    return {"_op_type": "index", "_index": "i", "_id": doc_id, "_source": {"n": 1, **source}}


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def writer(client: FakeClient, sleeps: Sleeps | None = None, **kwargs: Any) -> BulkWriter:
    return BulkWriter(
        client,  # type: ignore[arg-type]
        sleep=sleeps or Sleeps(),
        rng=random.Random(1),
        **kwargs,
    )


async def test_all_indexed_in_one_attempt() -> None:
    client = FakeClient(steps=[{}])
    result = await writer(client).write([action("a"), action("b")])
    assert (result.indexed, result.stale, result.rejected, result.retries) == (2, 0, [], 0)
    assert result.attempts == 1
    assert result.complete
    assert client.calls == [["a", "b"]]


async def test_empty_write_sends_nothing() -> None:
    client = FakeClient(steps=[])
    result = await writer(client).write([])
    assert result.attempts == 0
    assert client.calls == []


async def test_conflicts_are_stale_and_permanent_errors_rejected_without_retry() -> None:
    client = FakeClient(steps=[{"old": 409, "bad": 400}])
    bad = action("bad")
    result = await writer(client).write([action("ok"), action("old"), bad])
    assert (result.indexed, result.stale) == (1, 1)
    assert result.rejected == [(bad, "400 document_parsing_exception: failed to parse field")]
    assert result.retries == 0
    assert client.calls == [["ok", "old", "bad"]]


async def test_per_item_429_and_503_are_retried_alone() -> None:
    sleeps = Sleeps()
    client = FakeClient(steps=[{"b": 429, "c": 503}, {"c": 503}, {}])
    w = writer(client, sleeps)
    result = await w.write([action("a"), action("b"), action("c")])
    assert client.calls == [["a", "b", "c"], ["b", "c"], ["c"]]
    assert (result.indexed, result.retries, result.attempts, result.retried_items) == (3, 2, 3, 3)
    assert len(sleeps.delays) == 2
    assert w.stats.last_error is not None
    assert w.stats.last_error.startswith("503 unavailable_shards_exception")


async def test_connection_errors_and_whole_request_5xx_are_retried() -> None:
    client = FakeClient(
        steps=[
            ConnectionError("refused"),
            ConnectionTimeout("timed out"),
            api_error(503),
            api_error(429),
            {},
        ]
    )
    w = writer(client)
    result = await w.write([action("a"), action("b")])
    assert result.indexed == 2
    assert result.retries == 4
    assert result.attempts == 5
    assert w.stats.to_dict()["retries_total"] == 4
    assert w.stats.to_dict()["docs_indexed_total"] == 2


async def test_whole_request_4xx_is_permanent() -> None:
    client = FakeClient(steps=[api_error(413)])
    result = await writer(client).write([action("a")])
    assert result.retries == 0
    [(rejected, reason)] = result.rejected
    assert rejected["_id"] == "a"
    assert reason.startswith("413")


async def test_a_connection_error_in_a_later_chunk_resends_only_that_chunk() -> None:
    client = FakeClient(steps=[{}, ConnectionError("refused"), {}])
    result = await writer(client, chunk_size=2).write([action(x) for x in "abcd"])
    assert client.calls == [["a", "b"], ["c", "d"], ["c", "d"]]
    assert (result.indexed, result.retries) == (4, 1)


async def test_backoff_is_exponential_capped_and_jittered() -> None:
    failures: list[Step] = [ConnectionError("refused") for _ in range(9)]
    sleeps = Sleeps()
    client = FakeClient(steps=[*failures, {}])
    result = await writer(client, sleeps, backoff_base_s=0.5, backoff_max_s=30).write([action("a")])
    assert result.indexed == 1
    assert result.retries == 9
    nominal = [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert len(sleeps.delays) == len(nominal)
    for delay, cap in zip(sleeps.delays, nominal, strict=True):
        assert cap / 2 <= delay < cap
    assert len(set(sleeps.delays)) == len(sleeps.delays)  # jittered


async def test_unserialisable_action_is_rejected_before_sending() -> None:
    client = FakeClient(steps=[{}])
    broken = action("x", value=object())
    result = await writer(client).write([action("a"), broken, action("b", price=Decimal("1.5"))])
    assert client.calls == [["a", "b"]]
    [(rejected, reason)] = result.rejected
    assert rejected is not broken  # a copy
    assert rejected["_id"] == "x"
    assert reason.startswith("serialization_error")
    assert result.indexed == 2


async def test_stop_event_returns_pending_actions() -> None:
    stop = asyncio.Event()

    async def sleep_then_stop(delay: float) -> None:
        stop.set()

    client = FakeClient(steps=[ConnectionError("refused")] * 100)
    w = BulkWriter(client, stop=stop, sleep=sleep_then_stop)  # type: ignore[arg-type]
    result = await w.write([action("a"), action("b")])
    assert result.stopped
    assert [a["_id"] for a in result.pending] == ["a", "b"]
    assert (result.indexed, result.retries, result.attempts) == (0, 0, 1)
    assert not result.complete
    assert w.stats.docs_pending_at_stop == 2


async def test_close_interrupts_a_long_backoff() -> None:
    client = FakeClient(steps=[ConnectionError("refused")] * 100)
    w = BulkWriter(client, backoff_base_s=60, backoff_max_s=60)  # type: ignore[arg-type]
    task = asyncio.create_task(w.write([action("a")]))
    await asyncio.sleep(0.05)
    assert not task.done()  # waiting ~30-60 s before its first retry
    w.close()
    result = await asyncio.wait_for(task, timeout=2)
    assert result.stopped
    assert [a["_id"] for a in result.pending] == ["a"]
    assert w.closed


async def test_per_call_stop_and_refresh_passthrough() -> None:
    client = FakeClient(steps=[{}])
    stop = asyncio.Event()
    stop.set()
    w = writer(client, refresh="wait_for")
    result = await w.write([action("a")], stop=stop)
    assert result.stopped
    assert client.calls == []
    await w.write([action("b")])
    assert client.kwargs == [
        {"refresh": "wait_for", "filter_path": "errors,items.*.status,items.*.error"}
    ]


async def test_stats_accumulate() -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    client = FakeClient(steps=[{"b": 409}, ConnectionError("refused"), {"c": 400}])
    w = writer(client, clock=lambda: now)
    await w.write([action("a"), action("b")])
    await w.write([action("c"), action("d")])
    stats = w.stats.to_dict()
    assert stats["writes"] == 2
    assert stats["attempts"] == 3
    assert stats["docs_indexed_total"] == 2
    assert stats["docs_stale_total"] == 1
    assert stats["docs_rejected_total"] == 1
    assert stats["retries_total"] == 1
    assert stats["last_error"].startswith("ConnectionError: ")
    assert stats["last_rejection"] == "i/c: 400 document_parsing_exception: failed to parse field"
    assert stats["last_error_at"] == stats["last_success_at"] == "2025-03-01T00:00:00Z"
    assert stats["last_rejection_at"] == "2025-03-01T00:00:00Z"


@dataclass
class ScriptedClient(FakeClient):
    """Answers per document, whatever request it comes in: ``script[id]`` is the statuses
    (or an exception failing the whole request) of the document's successive writes."""

    script: dict[str, list[int | BaseException]] = field(default_factory=dict)
    #: writes ``(id, n)`` whose request takes longer to answer
    slow: set[tuple[str, int]] = field(default_factory=set)
    #: the writes ``(id, n)`` in the order they were applied (answered)
    applied: list[tuple[str, int]] = field(default_factory=list)

    async def bulk(self, *, operations: list[bytes], **kwargs: Any) -> Any:
        lines = [json.loads(line) for line in operations]
        ids = [next(iter(h.values()))["_id"] for h in lines[0::2]]
        writes = [(i, body["n"]) for i, body in zip(ids, lines[1::2], strict=True)]
        if self.slow & set(writes):
            await asyncio.sleep(0.05)
        nexts = {i: self.script[i].pop(0) for i in ids if self.script.get(i)}
        failure = next((x for x in nexts.values() if isinstance(x, BaseException)), None)
        self.steps = [failure or {i: x for i, x in nexts.items() if isinstance(x, int)}]
        answer = await super().bulk(operations=operations, **kwargs)
        self.applied.extend(writes)
        return answer


async def test_concurrent_requests_retry_and_report_every_action() -> None:
    """Requests go out ``concurrency`` at a time; every failure is handled per action: a
    lost connection resends its request and the lane's later ones, a per-item 503 its
    item; a 400 is rejected, a 409 stale; the results come in input order."""
    client = ScriptedClient(
        steps=[], script={"b": [503], "c": [400], "d": [ConnectionError("refused")], "f": [409]}
    )
    w = writer(client, chunk_size=2, concurrency=2)
    actions = [action(x) for x in "abcdefg"]  # lanes (crc32 of "i/<id>"): abc, defg
    result = await w.write(actions)
    assert client.max_in_flight == 2
    assert sorted(client.calls[:3]) == [["a", "b"], ["c"], ["d", "e"]]  # f g: after d e
    assert sorted(client.calls[3:]) == [["b"], ["d", "e"], ["f", "g"]]
    assert (result.indexed, result.stale, result.retries, result.retried_items) == (5, 1, 1, 5)
    assert result.rejected == [
        (actions[2], "400 document_parsing_exception: failed to parse field")
    ]
    assert result.complete


async def test_concurrent_requests_keep_the_order_of_a_documents_writes() -> None:
    """Two writes of one document are never in flight at once: the first is answered
    before the second is sent (an older external version must not land second)."""
    client = ScriptedClient(steps=[], slow={("x", 1)})
    w = writer(client, chunk_size=1, concurrency=4)
    actions = [action("x", n=1), action("x", n=2)] + [action(f"d{i}", n=i) for i in range(9)]
    result = await w.write(actions)
    assert result.indexed == 11
    assert client.max_in_flight > 1  # the other documents' requests overlapped
    assert [n for doc_id, n in client.applied if doc_id == "x"] == [1, 2]


async def test_concurrent_requests_stop_with_every_unsettled_action_pending() -> None:
    stop = asyncio.Event()

    async def sleep_then_stop(delay: float) -> None:
        stop.set()

    client = ScriptedClient(steps=[], script={"b": [503], "f": [ConnectionError("refused")]})
    w = BulkWriter(client, stop=stop, sleep=sleep_then_stop, chunk_size=2, concurrency=2)  # type: ignore[arg-type]
    result = await w.write([action(x) for x in "abcdefg"])
    assert result.stopped
    assert [a["_id"] for a in result.pending] == ["b", "f", "g"]
    assert result.indexed == 4


def test_invalid_concurrency() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        writer(FakeClient(steps=[]), concurrency=0)


def test_invalid_backoff() -> None:
    client = FakeClient(steps=[])
    with pytest.raises(ValueError, match="backoff"):
        writer(client, backoff_base_s=0)
    with pytest.raises(ValueError, match="backoff"):
        writer(client, backoff_base_s=2, backoff_max_s=1)


async def test_an_unforeseen_error_in_one_lane_propagates_and_stops_the_others() -> None:
    client = ScriptedClient(steps=[], script={"a": [RuntimeError("bug")]}, slow={("d", 1)})
    w = writer(client, chunk_size=1, concurrency=2)
    with pytest.raises(RuntimeError, match="bug"):
        await w.write([action(x) for x in "abcdefg"])  # lanes: abc, defg (d is slow)
    await asyncio.sleep(0.1)
    assert ["e"] not in client.calls  # the other lane was stopped during d's request
