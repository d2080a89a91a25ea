"""A bulk writer that keeps retrying while Elasticsearch is unavailable.

The writer's callers are Faust agents, and Faust acknowledges a message even when the agent
raises: a write that gives up loses documents. :meth:`BulkWriter.write` therefore never
raises on transient failures. Actions are serialised once; each attempt sends the
still-pending ones in bulk requests of at most ``chunk_size`` actions, ``concurrency`` requests
at a time (the writes of one document stay in order: see :meth:`BulkWriter._attempt`;
responses are trimmed by ``filter_path`` to each item's status and error), and sorts every
action's outcome:

* 2xx: **indexed**;
* 409 (``version_conflict_engine_exception``): **stale** - a newer external version is
  already stored, or a ``create`` found its document (a replay); the write is done;
* transient - connection errors, timeouts, a whole-request 408/429/5xx, or a per-item
  429/502/503/504: retried with exponential backoff and jitter until it succeeds or a stop
  is requested (``stop`` event or :meth:`BulkWriter.close`);
* anything else (400 ``document_parsing_exception``, ``strict_dynamic_mapping_exception``,
  an unserialisable action, ...): **rejected**, never retried, returned with its reason so
  the caller can dead-letter it.

Actions that were still pending when a stop was requested are returned in
:attr:`BulkResult.pending` (neither delivered nor rejected).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import zlib
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, cast

from elastic_transport import TransportError
from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.helpers import expand_action

from app.domain.utc import format_utc

__all__ = [
    "DEFAULT_RETRY_ITEM_STATUSES",
    "BulkResult",
    "BulkWriter",
    "WriterStats",
]

logger = logging.getLogger(__name__)

#: Per-item statuses retried (Elasticsearch overloaded or a shard unavailable).
DEFAULT_RETRY_ITEM_STATUSES: Final = frozenset({429, 502, 503, 504})
_CONFLICT: Final = 409
#: What a bulk response needs to carry: per item only its status and error (items come back
#: in request order), not ids, versions, shards and sequence numbers.
_FILTER_PATH: Final = "errors,items.*.status,items.*.error"

Sleep = Callable[[float], Awaitable[None]]
Action = dict[str, Any]


@dataclass(slots=True)
class BulkResult:
    """Outcome of one :meth:`BulkWriter.write`.

    ``indexed``: actions written (2xx). ``stale``: actions refused with a 409 because a
    newer version / the same document is already stored (success). ``rejected``: permanent
    failures as ``(action, reason)``. ``pending``: actions not delivered because a stop was
    requested. ``attempts``: bulk rounds sent; ``retries``: rounds that resent transient
    failures (``attempts - 1`` unless nothing was left to send); ``retried_items``: actions
    resent, summed over the retries.
    """

    indexed: int = 0
    stale: int = 0
    rejected: list[tuple[Action, str]] = field(default_factory=list)
    pending: list[Action] = field(default_factory=list)
    retries: int = 0
    retried_items: int = 0
    attempts: int = 0
    stopped: bool = False

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    @property
    def delivered(self) -> int:
        """Actions whose write is settled in Elasticsearch (indexed + stale)."""
        return self.indexed + self.stale

    @property
    def complete(self) -> bool:
        """Every action was settled: delivered or rejected (nothing left pending)."""
        return not self.pending


@dataclass(slots=True)
class WriterStats:
    """Cumulative counters of a :class:`BulkWriter` (for a stats page)."""

    writes: int = 0
    attempts: int = 0
    docs_indexed: int = 0
    docs_stale: int = 0
    docs_rejected: int = 0
    docs_pending_at_stop: int = 0
    retries: int = 0
    retried_items: int = 0
    #: the last transient failure (connection error, timeout, 429/5xx) and when it happened
    last_error: str | None = None
    last_error_at: datetime | None = None
    #: the last permanently rejected action (``index/id: reason``) and when
    last_rejection: str | None = None
    last_rejection_at: datetime | None = None
    last_success_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe snapshot (ISO 'Z' times)."""
        return {
            "writes": self.writes,
            "attempts": self.attempts,
            "docs_indexed_total": self.docs_indexed,
            "docs_stale_total": self.docs_stale,
            "docs_rejected_total": self.docs_rejected,
            "docs_pending_at_stop_total": self.docs_pending_at_stop,
            "retries_total": self.retries,
            "retried_items_total": self.retried_items,
            "last_error": self.last_error,
            "last_error_at": _format_time(self.last_error_at),
            "last_rejection": self.last_rejection,
            "last_rejection_at": _format_time(self.last_rejection_at),
            "last_success_at": _format_time(self.last_success_at),
        }


@dataclass(slots=True)
class _Ready:
    """An action, its serialised bulk lines (header, then the body if any), their size, its
    position in the write and its document's lane (see :meth:`BulkWriter._attempt`)."""

    action: Action
    lines: list[bytes]
    size: int
    position: int
    lane: int


@dataclass(slots=True)
class _Attempt:
    """Outcome of one bulk round: transient failures to resend, permanent ones with their
    reason, and the first error text."""

    retry: list[_Ready] = field(default_factory=list)
    rejected: list[tuple[_Ready, str]] = field(default_factory=list)
    error: str | None = None


class BulkWriter:
    """Writes bulk actions, retrying transient failures until they succeed or a stop.

    ``client`` is not owned (not closed by :meth:`close`). ``stop`` is an optional event
    that, once set, makes :meth:`write` return after the current round with what is left in
    :attr:`BulkResult.pending`; :meth:`close` sets the writer's own stop. ``sleep`` (awaited
    with the backoff delay) and ``rng`` are injectable for tests.
    """

    def __init__(
        self,
        client: AsyncElasticsearch,
        *,
        stop: asyncio.Event | None = None,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        request_timeout_s: float = 30.0,
        chunk_size: int = 500,
        max_chunk_bytes: int = 10 * 1024 * 1024,
        concurrency: int = 1,
        retry_item_statuses: Collection[int] = DEFAULT_RETRY_ITEM_STATUSES,
        refresh: bool | str | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if backoff_base_s <= 0 or backoff_max_s < backoff_base_s:
            raise ValueError("need 0 < backoff_base_s <= backoff_max_s")
        self._client = client
        self._external_stop = stop
        self._closed = asyncio.Event()
        self._backoff_base = backoff_base_s
        self._backoff_max = backoff_max_s
        self._request_timeout = request_timeout_s
        self._chunk_size = chunk_size
        self._max_chunk_bytes = max_chunk_bytes
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self._concurrency = concurrency
        self._retry_item_statuses = frozenset(retry_item_statuses)
        self._refresh = refresh
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._clock = clock or (lambda: datetime.now(UTC))
        self.stats = WriterStats()

    # --- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Request a stop: a running :meth:`write` returns after its current round."""
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _stop_requested(self, stop: asyncio.Event | None) -> bool:
        events = (self._closed, self._external_stop, stop)
        return any(event is not None and event.is_set() for event in events)

    # --- backoff -----------------------------------------------------------------------

    def backoff_delay(self, retry: int) -> float:
        """Delay before retry number ``retry`` (1-based): ``base x 2^(retry-1)`` capped at
        the max, scaled by a random factor in [0.5, 1) ("equal jitter")."""
        exponent = min(max(retry - 1, 0), 62)
        delay = min(self._backoff_max, self._backoff_base * 2.0**exponent)
        return delay * (0.5 + self._rng.random() / 2)

    async def _wait(self, delay: float, stop: asyncio.Event | None) -> None:
        """Sleep ``delay`` seconds, or less when a stop is requested meanwhile."""
        events = [e for e in (self._closed, self._external_stop, stop) if e is not None]
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waiters = [asyncio.ensure_future(event.wait()) for event in events]
        try:
            await asyncio.wait([sleeper, *waiters], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, *waiters):
                if not task.done():
                    task.cancel()
            for task in (sleeper, *waiters):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # --- writing -----------------------------------------------------------------------

    async def write(
        self, actions: Sequence[Mapping[str, Any]], *, stop: asyncio.Event | None = None
    ) -> BulkResult:
        """Write ``actions``; never raises on transient failures (see the module doc).

        Returns when every action is indexed, stale or rejected, or when a stop is requested
        (then the undelivered ones are in :attr:`BulkResult.pending`).
        """
        result = BulkResult()
        self.stats.writes += 1
        pending = self._prepare(actions, result)
        retry = 0
        while pending:
            if self._stop_requested(stop):
                result.stopped = True
                result.pending = [item.action for item in pending]
                break
            if result.attempts:
                retry += 1
                delay = self.backoff_delay(retry)
                logger.warning(
                    "elasticsearch bulk: retrying %d action(s) in %.2fs (retry %d): %s",
                    len(pending),
                    delay,
                    retry,
                    self.stats.last_error,
                )
                await self._wait(delay, stop)
                if self._stop_requested(stop):
                    result.stopped = True
                    result.pending = [item.action for item in pending]
                    break
                result.retries += 1
                result.retried_items += len(pending)
            result.attempts += 1
            attempt = await self._attempt(pending, result)
            if attempt.error is not None:
                self._record_error(attempt.error)
            pending = attempt.retry

        self._record(result)
        return result

    def _prepare(self, actions: Sequence[Mapping[str, Any]], result: BulkResult) -> list[_Ready]:
        """Copy and serialise the actions (once: the bytes are what every attempt sends),
        rejecting those that cannot be expanded or serialised."""
        serializer = self._client.transport.serializers.get_serializer("application/json")
        ready: list[_Ready] = []
        for raw in actions:
            action = dict(raw)
            try:
                header, body = expand_action(action)
                lines = [serializer.dumps(header)]
                if body is not None:
                    lines.append(serializer.dumps(body))
            except Exception as exc:  # anything the serializer refuses is permanent
                result.rejected.append((action, f"serialization_error: {exc}"))
                continue
            size = sum(len(line) + 1 for line in lines)
            lane = zlib.crc32(f"{action.get('_index')}/{action.get('_id')}".encode())
            ready.append(_Ready(action, lines, size, len(ready), lane))
        return ready

    def _chunks(self, pending: list[_Ready]) -> list[list[_Ready]]:
        """``pending`` cut into bulk requests of at most ``chunk_size`` actions and
        ``max_chunk_bytes`` bytes (an action bigger than that goes alone)."""
        chunks: list[list[_Ready]] = []
        chunk: list[_Ready] = []
        size = 0
        for item in pending:
            if chunk and (
                len(chunk) >= self._chunk_size or size + item.size > self._max_chunk_bytes
            ):
                chunks.append(chunk)
                chunk, size = [], 0
            chunk.append(item)
            size += item.size
        if chunk:
            chunks.append(chunk)
        return chunks

    async def _attempt(self, pending: list[_Ready], result: BulkResult) -> _Attempt:
        """One bulk round over ``pending``, classified into ``result`` (in input order).

        The actions are dealt into ``concurrency`` lanes by document (index and id), each
        lane's chunks sent one after the other, the lanes at the same time: two writes of
        one document keep their order, as in a single sequence of requests (an older
        external version sent after a newer one would come back stale). A lane stops at a
        request that failed transiently; it and the lane's later chunks are resent.
        """
        attempt = _Attempt()
        client = self._client.options(request_timeout=self._request_timeout)
        kwargs: dict[str, Any] = {"filter_path": _FILTER_PATH}
        if self._refresh is not None:
            kwargs["refresh"] = self._refresh

        async def send_lane(lane: list[_Ready]) -> None:
            chunks = self._chunks(lane)
            for n, chunk in enumerate(chunks):
                operations = [line for item in chunk for line in item.lines]
                try:
                    # pre-serialised NDJSON lines, as elasticsearch.helpers sends them
                    answer = await client.bulk(operations=cast(Any, operations), **kwargs)
                except TransportError as exc:  # the connection failed / timed out
                    attempt.error = attempt.error or _describe_exception(exc)
                    attempt.retry.extend(item for later in chunks[n:] for item in later)
                    return
                except ApiError as exc:  # the whole request was refused
                    reason = f"{exc.status_code} {_describe_exception(exc)}"
                    attempt.error = attempt.error or reason
                    if _transient_request_status(exc.status_code):
                        attempt.retry.extend(item for later in chunks[n:] for item in later)
                        return
                    attempt.rejected.extend((item, reason) for item in chunk)
                    continue
                self._classify_chunk(chunk, answer.body, result, attempt)

        lanes: list[list[_Ready]] = [[] for _ in range(self._concurrency)]
        for item in pending:
            lanes[item.lane % self._concurrency].append(item)
        tasks = [asyncio.ensure_future(send_lane(lane)) for lane in lanes if lane]
        try:
            await asyncio.gather(*tasks)
        finally:  # an unforeseen exception in one lane (it propagates) stops the others
            for task in tasks:
                task.cancel()
        attempt.retry.sort(key=lambda item: item.position)
        attempt.rejected.sort(key=lambda rejection: rejection[0].position)
        result.rejected.extend((item.action, reason) for item, reason in attempt.rejected)
        return attempt

    def _classify_chunk(
        self, chunk: list[_Ready], body: Mapping[str, Any], result: BulkResult, attempt: _Attempt
    ) -> None:
        if not body.get("errors", True):
            result.indexed += len(chunk)  # every item succeeded (the common case)
            return
        items = body.get("items", [])
        if len(items) != len(chunk):  # never seen; resend rather than guess
            attempt.error = attempt.error or f"bulk answered {len(items)} of {len(chunk)} items"
            attempt.retry.extend(chunk)
            return
        for item, answer in zip(chunk, items, strict=True):
            info: Mapping[str, Any] = next(iter(answer.values()), {}) if answer else {}
            status = int(info.get("status", 500))
            self._classify(item, 200 <= status < 300, answer, result, attempt)

    def _classify(
        self,
        item_ready: _Ready,
        ok: bool,
        item: Mapping[str, Any],
        result: BulkResult,
        attempt: _Attempt,
    ) -> None:
        info: Mapping[str, Any] = next(iter(item.values()), {}) if item else {}
        if ok:
            result.indexed += 1
            return
        status = int(info.get("status", 500))
        if status == _CONFLICT:
            result.stale += 1
            return
        transient = status in self._retry_item_statuses
        reason = _describe_item(status, info)
        if transient:
            attempt.retry.append(item_ready)
            if attempt.error is None:
                attempt.error = reason
        else:
            attempt.rejected.append((item_ready, reason))

    # --- stats -------------------------------------------------------------------------

    def _record_error(self, error: str) -> None:
        self.stats.last_error = error
        self.stats.last_error_at = self._clock()

    def _record(self, result: BulkResult) -> None:
        stats = self.stats
        stats.attempts += result.attempts
        stats.docs_indexed += result.indexed
        stats.docs_stale += result.stale
        stats.docs_rejected += len(result.rejected)
        stats.docs_pending_at_stop += len(result.pending)
        stats.retries += result.retries
        stats.retried_items += result.retried_items
        if result.delivered:
            stats.last_success_at = self._clock()
        for action, reason in result.rejected:
            stats.last_rejection = f"{action.get('_index')}/{action.get('_id')}: {reason}"
            stats.last_rejection_at = self._clock()
            logger.error(
                "elasticsearch bulk: rejected %s %s/%s: %s",
                action.get("_op_type", "index"),
                action.get("_index"),
                action.get("_id"),
                reason,
            )


def _format_time(value: datetime | None) -> str | None:
    return None if value is None else format_utc(value)


def _transient_request_status(status: int) -> bool:
    """A whole bulk request failing with this status is worth resending."""
    return status in (408, 429) or status >= 500


def _describe_item(status: int, info: Mapping[str, Any]) -> str:
    """``"400 document_parsing_exception: ... (caused by ...)"`` for a failed item."""
    error = info.get("error")
    if isinstance(error, Mapping):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, Mapping):
            text += f" (caused by {cause.get('type', 'error')}: {cause.get('reason', '')})"
    else:
        text = str(error) if error is not None else "unknown error"
    return f"{status} {text}"


def _describe_exception(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
