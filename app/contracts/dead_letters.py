"""The dead-letter topics: ``keepa.products.dlq``, ``fx.rates.dlq`` and ``arbitrage.sink.dlq``.

``keepa.products.dlq`` and ``fx.rates.dlq`` keep the unusable message **unchanged** (key and
value bytes as they came) and say why in headers, described by :class:`DeadLetter`.
``arbitrage.sink.dlq`` holds JSON :class:`SinkDeadLetter` values: what the Elasticsearch sink
could not index, and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final

import msgspec

from app.contracts.base import Codec, Message, Version1, describe

__all__ = [
    "DLQ_ERROR_MAX_BYTES",
    "SINK_DEAD_LETTER",
    "DeadLetter",
    "SinkDeadLetter",
    "header_name",
]

#: ``dlq.error`` is cut to this many bytes.
DLQ_ERROR_MAX_BYTES: Final = 1000

_PREFIX: Final = "dlq."


class DeadLetter(Message, kw_only=True, frozen=True):
    """The headers of a message on ``keepa.products.dlq`` / ``fx.rates.dlq``: each field is
    a header, ``dlq.<field>`` with ``source_`` written ``source.`` (``dlq.source.topic``);
    values are UTF-8 text, numbers in decimal."""

    schema_version: Annotated[Version1, describe("1")] = 1
    reason: Annotated[str, describe("a short, stable code, e.g. malformed_json")]
    error: Annotated[str, describe("a human-readable message (at most 1000 bytes)")]
    source_topic: Annotated[str, describe("the topic the message came from")]
    source_partition: Annotated[int, describe("its partition")]
    source_offset: Annotated[int, describe("its offset")]

    def headers(self) -> dict[str, bytes]:
        """``{"dlq.reason": b"...", ...}``, every field as a header."""
        return {
            header_name(name): _header_bytes(name, value)
            for name, value in msgspec.structs.asdict(self).items()
        }

    @classmethod
    def from_headers(cls, headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> DeadLetter:
        """Read the headers of a dead-lettered record (other headers are ignored)."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        fields = {
            name.removeprefix(_PREFIX).replace("source.", "source_"): value.decode("utf-8")
            for name, value in pairs
            if name.startswith(_PREFIX)
        }
        return msgspec.convert(fields, cls, strict=False)


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
