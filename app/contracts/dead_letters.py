"""The dead-letter topics: ``keepa.products.dlq``, ``fx.rates.dlq``, ``arbitrage.sink.dlq``
and ``keepa.webhook.dlq``.

``keepa.products.dlq`` and ``fx.rates.dlq`` keep the unusable message **unchanged** (key and
value bytes as they came) and say why in headers, described by :class:`DeadLetter`.
``arbitrage.sink.dlq`` holds JSON :class:`SinkDeadLetter` values: what the Elasticsearch sink
could not index, and why. ``keepa.webhook.dlq`` keeps a body the Keepa webhook receiver
(or the notification queue's reader) could not read as a notification, unchanged, with the
reason in :class:`NotificationDeadLetter` headers: it came from HTTP, not from a topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Self

import msgspec

from app.contracts.base import Codec, Message, UtcDatetime, Version1, describe
from app.contracts.keepa_notifications import NotificationSource

__all__ = [
    "DLQ_ERROR_MAX_BYTES",
    "SINK_DEAD_LETTER",
    "DeadLetter",
    "NotificationDeadLetter",
    "SinkDeadLetter",
    "header_name",
]

#: ``dlq.error`` is cut to this many bytes.
DLQ_ERROR_MAX_BYTES: Final = 1000

_PREFIX: Final = "dlq."


class _HeaderLetter(Message, kw_only=True, frozen=True):
    """A dead letter told in headers: each field is a header, ``dlq.<field>`` with
    ``source_`` written ``source.``; values are UTF-8 text, numbers in decimal, times in
    ISO-8601."""

    def headers(self) -> dict[str, bytes]:
        """``{"dlq.reason": b"...", ...}``, every field as a header."""
        return {
            header_name(name): _header_bytes(name, value)
            for name, value in msgspec.to_builtins(self).items()
        }

    @classmethod
    def from_headers(cls, headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> Self:
        """Read the headers of a dead-lettered record (other headers are ignored)."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        fields = {
            name.removeprefix(_PREFIX).replace("source.", "source_"): value.decode("utf-8")
            for name, value in pairs
            if name.startswith(_PREFIX)
        }
        return msgspec.convert(fields, cls, strict=False)


class DeadLetter(_HeaderLetter, kw_only=True, frozen=True):
    """The headers of a message on ``keepa.products.dlq`` / ``fx.rates.dlq``: each field is
    a header, ``dlq.<field>`` with ``source_`` written ``source.`` (``dlq.source.topic``);
    values are UTF-8 text, numbers in decimal."""

    schema_version: Annotated[Version1, describe("1")] = 1
    reason: Annotated[str, describe("a short, stable code, e.g. malformed_json")]
    error: Annotated[str, describe("a human-readable message (at most 1000 bytes)")]
    source_topic: Annotated[str, describe("the topic the message came from")]
    source_partition: Annotated[int, describe("its partition")]
    source_offset: Annotated[int, describe("its offset")]


class NotificationDeadLetter(_HeaderLetter, kw_only=True, frozen=True):
    """The headers of a message on ``keepa.webhook.dlq``: a body that is not a Keepa
    notification, as it was received (the value), and why; each field is a header
    ``dlq.<field>``, UTF-8 text."""

    schema_version: Annotated[Version1, describe("1")] = 1
    reason: Annotated[
        str, describe("a short, stable code of parse_notification, e.g. malformed_json")
    ]
    error: Annotated[str, describe("a human-readable message (at most 1000 bytes)")]
    source: Annotated[
        NotificationSource,
        describe("webhook (a POST body) or queue (an item of Keepa's notification queue)"),
    ]
    received_at: Annotated[UtcDatetime, describe("when it was received (ISO-8601, UTC)")]


def header_name(field: str) -> str:
    """The header of a :class:`DeadLetter` field: ``source_topic`` -> ``dlq.source.topic``."""
    return _PREFIX + field.replace("source_", "source.")


def _header_bytes(name: str, value: object) -> bytes:
    data = str(value).encode("utf-8")
    if name == "error" and len(data) > DLQ_ERROR_MAX_BYTES:  # cut on a character boundary
        return data[:DLQ_ERROR_MAX_BYTES].decode("utf-8", "ignore").encode("utf-8")
    return data


class SinkDeadLetter(Message, kw_only=True, frozen=True):
    """A message or document the Elasticsearch sink gave up on."""

    schema_version: Annotated[Version1, describe("1")] = 1
    reason: Annotated[
        str,
        describe(
            "rejected (Elasticsearch refused the document for good), or why the consumed "
            "message could not be read: malformed_json, unsupported_version, invalid_shape..."
        ),
    ]
    error: Annotated[str, describe("a human-readable message")]
    source_topic: Annotated[str | None, describe("the topic of the consumed message")] = None
    source_partition: Annotated[int | None, describe("its partition")] = None
    source_offset: Annotated[int | None, describe("its offset")] = None
    message: Annotated[
        str | None,
        describe("the consumed message's value as text, when it could not be read"),
    ] = None
    action: Annotated[dict[str, Any] | None, describe("the bulk action Elasticsearch rejected")] = (
        None
    )


SINK_DEAD_LETTER: Final = Codec(SinkDeadLetter)
