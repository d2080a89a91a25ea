"""Dead-lettering a consumed message: the original key and value bytes, unchanged, to a DLQ
topic, with the reason in :class:`app.contracts.dead_letters.DeadLetter` headers."""

from __future__ import annotations

from typing import Any

from faust.types import EventT, TopicT

from app.contracts.dead_letters import DeadLetter
from app.metrics import metrics

__all__ = ["dead_letter"]


async def dead_letter(
    topic: TopicT, event: EventT[Any], code: str, message: str, *, counter: str = "dlq"
) -> None:
    """Send ``event``'s message to ``topic`` with its reason; counted as ``counter`` and, per
    reason, in ``dlq_reasons`` (``<reason>``, or ``<counter>:<reason>`` for other counters)."""
    msg = event.message
    letter = DeadLetter(
        reason=code,
        error=message,
        source_topic=msg.topic,
        source_partition=msg.partition,
        source_offset=msg.offset,
    )
    await topic.send(key=msg.key, value=msg.value or b"", headers=letter.headers())
    metrics.incr(counter)
    metrics.dlq_reasons[code if counter == "dlq" else f"{counter}:{code}"] += 1
