"""What every topic contract shares: the message base class, the schema version, the field
types, the codec and the one error a consumer raises for a message it cannot read.

A message type is a frozen :class:`msgspec.Struct` (see docs/contract.md for why msgspec).
Decoding is strict about types (no string-to-number coercion, datetimes must carry a time
zone) and ignores unknown fields, so a producer may add optional fields without breaking
older consumers; anything else changes ``schema_version``.

Versions. Each message type declares ``schema_version: Literal[<versions it reads>]``. A
message without the field is version 1 (the format before the field existed). When decoding
fails, :class:`Codec` looks at the message's ``schema_version`` alone: a version the type does
not know is reported as ``unsupported_version``, whatever else is wrong with the message, so
the reason a consumer dead-letters a message from a newer producer is always that one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Generic, Literal, TypeVar, get_args, get_origin

import msgspec

from app.domain.asin import ASIN_PATTERN

__all__ = [
    "Asin",
    "Codec",
    "ContractError",
    "ContractErrorCode",
    "Message",
    "UtcDatetime",
    "Version1",
    "describe",
    "encode",
    "error_field",
    "require_finite",
]

#: A message a consumer could not read: the codes every codec may raise. Contracts add
#: field-specific codes (``Codec(field_codes=...)``), e.g. ``missing_product``.
ContractErrorCode = Literal[
    "malformed_json",  # the bytes are not JSON
    "not_an_object",  # JSON, but not an object at the top level
    "unsupported_version",  # a schema_version this consumer does not read
    "invalid_shape",  # a field is missing, of the wrong type or out of range
]

#: Amazon Standard Identification Number: 10 characters ``A-Z0-9``.
Asin = Annotated[str, msgspec.Meta(pattern=ASIN_PATTERN, description="ASIN (10 x A-Z0-9)")]
#: An ISO-8601 / RFC 3339 timestamp with a time zone (written in UTC with ``Z``).
UtcDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
#: ``schema_version`` of a type that reads version 1 only.
Version1 = Literal[1]


class Message(msgspec.Struct, kw_only=True, frozen=True):
    """Base of every message type: immutable, keyword-only, ``schema_version`` first."""


def describe(text: str) -> msgspec.Meta:
    """Field documentation, carried into the JSON Schema and the tables of docs/contract.md."""
    return msgspec.Meta(description=text)


class ContractError(ValueError):
    """A message that does not follow its topic's contract.

    ``code`` is short and stable (metrics, the ``dlq.reason`` header), ``message`` is for
    humans (the ``dlq.error`` header).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def require_finite(value: Decimal | None, name: str, *, positive: bool = False) -> None:
    """For ``__post_init__``: a Decimal field must be a finite (and positive) number."""
    if value is None:
        return
    if not value.is_finite() or (positive and value <= 0):
        kind = "a positive" if positive else "a finite"
        raise ValueError(f"{name} must be {kind} number, got {value}")


_ENCODER: Final = msgspec.json.Encoder()


def encode(message: msgspec.Struct) -> bytes:
    """The JSON bytes of a message (Decimal as a string, datetimes ISO-8601)."""
    return _ENCODER.encode(message)


class _VersionOnly(msgspec.Struct):
    schema_version: Any = 1


_VERSION_DECODER: Final = msgspec.json.Decoder(_VersionOnly)
_AT_PATH = re.compile(r" - at `\$((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]]*\])*)`$")
_MISSING_FIELD = re.compile(r"^Object missing required field `([^`]+)`")

M = TypeVar("M", bound=msgspec.Struct)


@dataclass(frozen=True)
class Codec(Generic[M]):
    """Encodes and decodes one message type; decoding raises :class:`ContractError`.

    ``field_codes`` maps a top-level field name to the error code of a message whose
    problem is in that field (for instance ``{"product": "missing_product"}``); other shape
    errors are ``invalid_shape``.
    """

    type: type[M]
    field_codes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_decoder", msgspec.json.Decoder(self.type))
        versions = [
            get_args(_unannotated(info.type))
            for info in msgspec.structs.fields(self.type)
            if info.name == "schema_version"
        ]
        if not versions:
            raise TypeError(f"{self.type.__name__} has no schema_version field")
        object.__setattr__(self, "versions", versions[0])

    #: The ``schema_version`` values the type reads (from its ``Literal``).
    versions: tuple[int, ...] = field(init=False, default=())

    def encode(self, message: M) -> bytes:
        return _ENCODER.encode(message)

    def decode(self, data: bytes | None) -> M:
        """The message in ``data``; :class:`ContractError` when it cannot be read (``None``,
        a Kafka record without value such as a tombstone, is ``malformed_json``)."""
        decoder: msgspec.json.Decoder[M] = self._decoder  # type: ignore[attr-defined]
        if not isinstance(data, bytes | bytearray | memoryview | str):
            raise ContractError("malformed_json", f"value is not JSON bytes: {data!r}")
        try:
            return decoder.decode(data)
        except msgspec.ValidationError as exc:  # (a subclass of DecodeError)
            try:
                version = _VERSION_DECODER.decode(data).schema_version
            except msgspec.ValidationError:
                raise self._explain(None, str(exc), is_object=False) from None
            raise self._explain(version, str(exc), is_object=True) from None
        except msgspec.DecodeError as exc:
            raise ContractError("malformed_json", f"value is not valid JSON: {exc}") from None

    def convert(self, data: Any) -> M:
        """The message in already-decoded JSON (dicts, lists, strings...), e.g. an Airflow
        XCom value; :class:`ContractError` when it is not one."""
        if isinstance(data, self.type):
            return data
        try:
            return msgspec.convert(data, self.type)
        except msgspec.ValidationError as exc:
            version = data.get("schema_version", 1) if isinstance(data, Mapping) else None
            raise self._explain(version, str(exc), is_object=isinstance(data, Mapping)) from None

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the message type."""
        return msgspec.json.schema(self.type)

    def _explain(self, version: Any, error: str, *, is_object: bool) -> ContractError:
        name = self.type.__name__
        if not is_object:
            return ContractError("not_an_object", f"{name} must be a JSON object: {error}")
        if version not in self.versions:
            return ContractError(
                "unsupported_version",
                f"{name} schema_version {version!r} is not supported "
                f"(this consumer reads {', '.join(map(str, self.versions))})",
            )
        top = error_field(error)
        code = self.field_codes.get(top, "invalid_shape") if top else "invalid_shape"
        return ContractError(code, f"{name}: {error}")


def _unannotated(hint: Any) -> Any:
    return get_args(hint)[0] if get_origin(hint) is Annotated else hint


def error_field(error: str) -> str | None:
    """The top-level field a msgspec validation error is about (``None``: the object), by
    its encoded name (for producers of other formats that map it to their own codes)."""
    at = _AT_PATH.search(error)
    path = at.group(1) if at else ""
    if path.startswith("."):
        return re.split(r"[.\[]", path[1:], maxsplit=1)[0]
    missing = _MISSING_FIELD.match(error)
    if missing and not path:
        return missing.group(1)
    return None
