"""Reading ``fx.rates`` messages: one function for the worker's fx agent and the scheduler."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from app.domain.fx import FxRates
from app.ingest.fx import FxMessageError, fx_message, latest_rate, rate_from_message

VALUE = {
    "currency": "GBP",
    "eur_per_gbp": "1.189980",
    "as_of": "2025-03-14T16:00:00Z",
    "source": "ecb",
}
RATE = FxRates(Decimal("1.189980"), datetime(2025, 3, 14, 16, tzinfo=UTC))


def test_a_decoded_and_a_raw_message_give_the_same_rate() -> None:
    key, raw = fx_message(VALUE)
    assert rate_from_message(key, VALUE) == RATE
    assert rate_from_message(key, raw) == RATE


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (b"USD", VALUE),
        (None, VALUE),
        (b"GBP", None),  # a tombstone
        (b"GBP", b"{not json"),
        (b"GBP", b"[1, 2]"),
        (b"GBP", {**VALUE, "eur_per_gbp": "0"}),
        (b"GBP", {**VALUE, "eur_per_gbp": "lots"}),
        (b"GBP", {**VALUE, "as_of": "2025-03-14T16:00:00"}),  # no time zone
        (b"GBP", {"currency": "GBP"}),
    ],
)
def test_unusable_messages_are_refused(key: bytes | None, value: Any) -> None:
    with pytest.raises(FxMessageError):
        rate_from_message(key, value)


def test_the_last_usable_rate_is_in_force_and_unusable_ones_are_skipped() -> None:
    older = {**VALUE, "eur_per_gbp": "1.17", "as_of": "2025-03-13T16:00:00Z"}
    messages = [
        (b"GBP", orjson.dumps(older)),
        (b"GBP", orjson.dumps(VALUE)),
        (b"GBP", orjson.dumps({**VALUE, "eur_per_gbp": "-1"})),  # ignored: RATE stays
        (b"USD", orjson.dumps(VALUE)),
    ]
    assert latest_rate(messages) == RATE
    assert latest_rate(messages[:1]) == FxRates(
        Decimal("1.17"), datetime(2025, 3, 13, 16, tzinfo=UTC)
    )


def test_no_usable_rate_is_none() -> None:
    assert latest_rate([]) is None
    assert latest_rate([(b"GBP", b"{broken")]) is None
