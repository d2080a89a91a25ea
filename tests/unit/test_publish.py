"""``app.publish``: messages confirmed by the broker, with a fake topic at Faust's boundary
(``as_future_message`` / ``publish_message``), whose acknowledgements the test controls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from app.publish import publish_all_confirmed


@dataclass
class _Message:
    key: bytes | None
    value: bytes


@dataclass
class FakeTopic:
    """Records each publish as (value, waited); ``refuse`` values fail their acknowledgement
    once, ``down`` values make the producer raise once when they are handed to it."""

    refuse: set[bytes] = field(default_factory=set)
    down: set[bytes] = field(default_factory=set)
    published: list[tuple[bytes, bool]] = field(default_factory=list)
    pending: list[asyncio.Future[None]] = field(default_factory=list)

    def as_future_message(self, key: bytes | None, value: bytes, headers: Any = None) -> _Message:
        return _Message(key, value)

    async def publish_message(self, message: _Message, wait: bool = False) -> Any:
        if message.value in self.down:
            self.down.discard(message.value)
            raise ConnectionError("producer is down")
        self.published.append((message.value, wait))
        if wait:
            return None
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if message.value in self.refuse:
            self.refuse.discard(message.value)
            ack.set_exception(TimeoutError("no acknowledgement"))
        else:
            self.pending.append(ack)
            # The broker acknowledges a little later, not during the send.
            asyncio.get_running_loop().call_later(0.01, ack.set_result, None)
        return ack


MESSAGES = [(b"K1", b"a"), (b"K2", b"b"), (b"K1", b"c")]


async def test_all_are_sent_before_any_wait_and_it_returns_once_all_are_acknowledged() -> None:
    topic = FakeTopic()
    await publish_all_confirmed(topic, MESSAGES, what="test")  # type: ignore[arg-type]
    assert topic.published == [(b"a", False), (b"b", False), (b"c", False)]
    assert all(ack.done() for ack in topic.pending)


async def test_a_refused_message_and_every_later_one_are_published_again_in_order() -> None:
    topic = FakeTopic(refuse={b"b"})
    await publish_all_confirmed(topic, MESSAGES, what="test")  # type: ignore[arg-type]
    # a, b and c go out together; b is refused, so b and c are published again, confirmed
    # one by one in order (c twice: at least once, never ahead of b's retry).
    assert topic.published == [
        (b"a", False),
        (b"b", False),
        (b"c", False),
        (b"b", True),
        (b"c", True),
    ]


async def test_a_producer_failure_stops_the_unconfirmed_sends_and_the_rest_is_confirmed() -> None:
    topic = FakeTopic(down={b"b"})
    await publish_all_confirmed(topic, MESSAGES, what="test")  # type: ignore[arg-type]
    assert topic.published == [(b"a", False), (b"b", True), (b"c", True)]


async def test_nothing_to_publish_returns_at_once() -> None:
    topic = FakeTopic()
    await publish_all_confirmed(topic, [], what="test")  # type: ignore[arg-type]
    assert topic.published == []
