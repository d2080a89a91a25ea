"""Reading ``fx.rates`` messages: one contract for the worker's fx agent and the scheduler."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pytest

from app.contracts.base import ContractError
from app.contracts.fx_rates import rate_from_message
from app.domain.fx import FxRates
from app.ingest.fx import fx_message, latest_rate

VALUE = {
    "currency": "GBP",
    "eur_per_gbp": "1.189980",
    "as_of": "2025-03-14T16:00:00Z",
    "source": "ecb",
}
RATE = FxRates(Decimal("1.189980"), datetime(2025, 3, 14, 16, tzinfo=UTC))


def test_the_published_message_gives_the_rate() -> None:
    key, raw = fx_message(VALUE)
    assert rate_from_message(key, raw).to_rates() == RATE
    assert orjson.loads(raw) == {"schema_version": 1, **VALUE}


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        (b"USD", VALUE, "unsupported_currency"),
        (None, VALUE, "unsupported_currency"),
        (b"GBP", None, "malformed_json"),  # a tombstone
        (b"GBP", b"{not json", "malformed_json"),
        (b"GBP", b"[1, 2]", "not_an_object"),
        (b"GBP", {**VALUE, "schema_version": 2}, "unsupported_version"),
        (b"GBP", {**VALUE, "eur_per_gbp": "0"}, "invalid_shape"),
        (b"GBP", {**VALUE, "eur_per_gbp": "lots"}, "invalid_shape"),
        (b"GBP", {**VALUE, "as_of": "2025-03-14T16:00:00"}, "invalid_shape"),  # no time zone
        (b"GBP", {"currency": "GBP"}, "invalid_shape"),
    ],
)
def test_unusable_messages_are_refused(key: bytes | None, value: Any, code: str) -> None:
    raw = msgspec.json.encode(value) if isinstance(value, dict) else value
    with pytest.raises(ContractError) as info:
        rate_from_message(key, raw)
    assert info.value.code == code


def test_the_last_usable_rate_is_in_force_and_unusable_ones_are_skipped() -> None:
    older = {**VALUE, "eur_per_gbp": "1.17", "as_of": "2025-03-13T16:00:00Z"}
    messages: list[tuple[bytes | None, bytes | None]] = [
        (b"GBP", orjson.dumps(older)),
        (b"GBP", orjson.dumps(VALUE)),
        (b"GBP", orjson.dumps({**VALUE, "eur_per_gbp": "-1"})),  # ignored: RATE stays
        (b"GBP", None),  # a tombstone: ignored too
        (b"USD", orjson.dumps(VALUE)),
    ]
    assert latest_rate(messages) == RATE
    assert latest_rate(messages[:1]) == FxRates(
        Decimal("1.17"), datetime(2025, 3, 13, 16, tzinfo=UTC)
    )


def test_no_usable_rate_is_none() -> None:
    assert latest_rate([]) is None
    assert latest_rate([(b"GBP", b"{broken")]) is None
