"""Publishing one message from inside the worker and waiting until the broker has it.

Faust's ``topic.send`` hands a message to the producer and returns; a refused or
undeliverable record then fails a future nobody reads. Where a message must not be lost (an
opportunity event before the state that records it, a dead letter before the batch it comes
from is acknowledged, a message put back at a stop, a re-evaluation request) it is published
with ``wait=True`` and retried with backoff until the broker acknowledges it: the one
function for that is :func:`publish_confirmed`. Many messages that must all be confirmed
before the caller goes on (a batch's opportunity events) are sent together and confirmed
together by :func:`publish_all_confirmed`: one wait for the broker instead of one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from faust.types import TopicT
from faust.types.core import HeadersArg

from app.metrics import metrics

__all__ = ["publish_all_confirmed", "publish_confirmed", "retry_delay"]

log = logging.getLogger(__name__)


def retry_delay(retry: int) -> float:
    """The default backoff before retry number ``retry`` (1, 2, ...): 0.2 s doubling, at
    most 5 s."""
    return float(min(0.1 * 2**retry, 5.0))


async def publish_confirmed(
    topic: TopicT,
    key: bytes | None,
    value: bytes,
    *,
    what: str,
    headers: HeadersArg = None,
    delay: Callable[[int], float] = retry_delay,
    stop: asyncio.Event | None = None,
    failures: str | None = None,
) -> bool:
    """Publish ``value`` under ``key`` to ``topic`` and wait for the broker's acknowledgement,
    retrying after ``delay(retry)`` while it is refused, times out or the producer is down.

    Returns True once the broker has it. With ``stop``, gives up when it is set (before a
    try, or during a backoff, which it cuts short) and returns False; without, tries until
    it succeeds or the task is cancelled. Each failure is logged with ``what``, recorded as
    the worker's last error and, with ``failures``, counted under that name.
    """
    retry = 0
    while stop is None or not stop.is_set():
        try:
            message = topic.as_future_message(key=key, value=value, headers=headers)
            await topic.publish_message(message, wait=True)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # refused, timed out, not serialisable, producer down, ...
            retry += 1
            if failures is not None:
                metrics.incr(failures)
            metrics.error(f"{what} not delivered: {exc!r}")
            log.warning("%s not delivered (%r); retry %d", what, exc, retry)
            await _pause(delay(retry), stop)
    return False


async def publish_all_confirmed(
    topic: TopicT, messages: Sequence[tuple[bytes | None, bytes]], *, what: str
) -> None:
    """Publish ``messages`` (key, value) to ``topic`` in order without waiting between them,
    then wait until the broker has acknowledged every one.

    The producer keeps them in order (one partition per key, idempotent producer). If one is
    refused or undeliverable, it and every message after it are published again, in order,
    each with :func:`publish_confirmed` (retried until the broker has it): a later message
    may then be delivered twice, never lost and never left behind an earlier one's retry.
    """
    sent: list[asyncio.Future[Any]] = []
    first_failed: int | None = None
    for key, value in messages:
        try:
            message = topic.as_future_message(key=key, value=value)
            sent.append(await topic.publish_message(message, wait=False))  # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # producer down, buffer full, ...
            _failed(what, exc)
            first_failed = len(sent)
            break
    outcomes = await asyncio.gather(*sent, return_exceptions=True)
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, BaseException):
            _failed(what, outcome)
            first_failed = i
            break
    if first_failed is not None:
        for key, value in messages[first_failed:]:
            await publish_confirmed(topic, key, value, what=what)


def _failed(what: str, exc: BaseException) -> None:
    metrics.error(f"{what} not delivered: {exc!r}")
    log.warning("%s not delivered (%r); publishing it again, confirmed", what, exc)


async def _pause(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
