"""The codec every contract shares: versions, error codes, strictness, compatibility."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
import orjson
import pytest

from app.contracts.base import Codec, ContractError, Message, UtcDatetime, describe, encode


class Sample(Message, kw_only=True, frozen=True):
    schema_version: Literal[1, 2] = 1
    name: Annotated[str, describe("a name")]
    count: int = 0
    at: UtcDatetime | None = None


CODEC = Codec(Sample, field_codes={"name": "bad_name"})


def test_versions_come_from_the_literal() -> None:
    assert CODEC.versions == (1, 2)


def test_a_message_without_schema_version_is_version_1() -> None:
    assert CODEC.decode(b'{"name": "a"}') == Sample(name="a")


def test_encoding_writes_schema_version_first() -> None:
    assert encode(Sample(name="a")) == b'{"schema_version":1,"name":"a","count":0,"at":null}'
    assert CODEC.encode(Sample(name="a", schema_version=2)).startswith(b'{"schema_version":2')


def test_unknown_fields_are_ignored_so_producers_may_add_optional_ones() -> None:
    assert CODEC.decode(b'{"name": "a", "added_later": [1, 2]}') == Sample(name="a")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "malformed_json"),
        (b"{", "malformed_json"),
        (b"\xff", "malformed_json"),
        (b"[1]", "not_an_object"),
        (b"null", "not_an_object"),
        (b'"text"', "not_an_object"),
        (b'{"schema_version": 3, "name": "a"}', "unsupported_version"),
        (b'{"schema_version": "1", "name": "a"}', "unsupported_version"),
        (b'{"schema_version": null, "name": "a"}', "unsupported_version"),
        # an unknown version wins over every other problem of the message
        (b'{"schema_version": 3, "name": 7, "count": "x"}', "unsupported_version"),
        (b'{"count": 1}', "bad_name"),
        (b'{"name": 7}', "bad_name"),
        (b'{"name": "a", "count": "1"}', "invalid_shape"),
        (b'{"name": "a", "count": 1.0}', "invalid_shape"),
        (b'{"name": "a", "count": true}', "invalid_shape"),
        (b'{"name": "a", "at": "2025-03-01T12:00:00"}', "invalid_shape"),
        (b'{"name": "a", "at": "2025-03-01"}', "invalid_shape"),
    ],
)
def test_decoding_errors_have_a_stable_code(raw: bytes, code: str) -> None:
    with pytest.raises(ContractError) as info:
        CODEC.decode(raw)
    assert info.value.code == code
    assert str(info.value) == f"{code}: {info.value.message}"
    assert info.value.message


def test_convert_reads_decoded_json_with_the_same_codes() -> None:
    assert CODEC.convert({"name": "a", "at": "2025-03-01T12:00:00+01:00"}).at is not None
    assert CODEC.convert(Sample(name="a")) == Sample(name="a")
    for data, code in [
        ([1], "not_an_object"),
        ({"schema_version": 9}, "unsupported_version"),
        ({"name": 1}, "bad_name"),
        ({"name": "a", "count": "2"}, "invalid_shape"),
    ]:
        with pytest.raises(ContractError) as info:
            CODEC.convert(data)
        assert info.value.code == code


def test_times_keep_their_instant_and_utc_is_written_with_z() -> None:
    message = CODEC.decode(b'{"name": "a", "at": "2025-03-01T13:00:00+01:00"}')
    assert message.at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    utc = msgspec.structs.replace(message, at=datetime(2025, 3, 1, 12, 0, 0, 5, tzinfo=UTC))
    assert orjson.loads(encode(utc))["at"] == "2025-03-01T12:00:00.000005Z"


def test_a_type_without_schema_version_is_refused() -> None:
    class Unversioned(Message, kw_only=True, frozen=True):
        name: str

    with pytest.raises(TypeError, match="schema_version"):
        Codec(Unversioned)
