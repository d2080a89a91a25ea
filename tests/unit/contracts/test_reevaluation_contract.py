"""``arbitrage.reevaluations`` requests and the profile version in the ``quotes`` state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import msgspec
import orjson
import pytest

from app.contracts.base import ContractError, encode
from app.contracts.reevaluations import REEVALUATION, ReevaluationRequest, request_from_message
from app.contracts.tables import (
    OPEN_ROUTES_STATE,
    QUOTES_STATE,
    OpenRoutesState,
    QuotesState,
    open_route_quote_times,
    recorded_profile_version,
)
from app.domain.asin_state import apply_quote
from app.domain.detection import Pricing
from app.domain.fee_schedule import default_fee_schedule
from app.domain.fx import FxRates
from app.domain.markets import Market
from app.domain.policy import DetectionPolicy
from app.domain.profile import DEFAULT_PROFILE
from app.domain.utc import format_utc
from tests.keepa_factory import make_quote

ASIN = "B0REQUEST1"
AT = datetime(2026, 11, 29, 16, 0, 5, tzinfo=UTC)
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_a_request_round_trips_and_names_its_cause() -> None:
    request = ReevaluationRequest(
        asin=ASIN, reason="wall_clock", as_of=AT, profile_version="0123456789abcdef"
    )
    data = encode(request)
    assert orjson.loads(data) == {
        "schema_version": 1,
        "asin": ASIN,
        "reason": "wall_clock",
        "as_of": "2026-11-29T16:00:05Z",
        "profile_version": "0123456789abcdef",
    }
    assert request_from_message(ASIN.encode(), data) == request
    assert request.cause == "wall_clock@2026-11-29T16:00:05Z"


def test_as_of_is_kept_in_utc() -> None:
    cet = timezone(timedelta(hours=1))
    request = ReevaluationRequest(
        asin=ASIN, reason="profile_changed", as_of=AT.astimezone(cet), profile_version="v"
    )
    assert request.as_of == AT
    assert request.as_of.tzinfo == UTC


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        (ASIN.encode(), b"{nope", "malformed_json"),
        (ASIN.encode(), b"[1]", "not_an_object"),
        (
            ASIN.encode(),
            orjson.dumps({"schema_version": 2, "asin": ASIN}),
            "unsupported_version",
        ),
        (
            ASIN.encode(),
            orjson.dumps(
                {"asin": ASIN, "reason": "because", "as_of": format_utc(AT), "profile_version": "v"}
            ),
            "invalid_shape",
        ),
        (
            ASIN.encode(),
            orjson.dumps(
                {
                    "asin": ASIN,
                    "reason": "wall_clock",
                    "as_of": "2026-11-29T16:00:05",
                    "profile_version": "v",
                }
            ),
            "invalid_shape",
        ),
        (
            b"B0OTHER001",
            orjson.dumps(
                {
                    "asin": ASIN,
                    "reason": "wall_clock",
                    "as_of": format_utc(AT),
                    "profile_version": "v",
                }
            ),
            "asin_mismatch",
        ),
        (
            None,
            orjson.dumps(
                {
                    "asin": ASIN,
                    "reason": "wall_clock",
                    "as_of": format_utc(AT),
                    "profile_version": "v",
                }
            ),
            "missing_key",
        ),
        (
            b"bad",
            orjson.dumps(
                {
                    "asin": "bad",
                    "reason": "wall_clock",
                    "as_of": format_utc(AT),
                    "profile_version": "v",
                }
            ),
            "invalid_shape",
        ),
    ],
)
def test_an_unusable_request_is_a_contract_error_with_its_reason(
    key: bytes | None, value: bytes, code: str
) -> None:
    with pytest.raises(ContractError) as raised:
        request_from_message(key, value)
    assert raised.value.code == code


def test_the_schema_lists_both_reasons() -> None:
    schema = REEVALUATION.schema()
    reason = schema["$defs"]["ReevaluationRequest"]["properties"]["reason"]
    assert sorted(reason["enum"]) == ["profile_changed", "wall_clock"]


def _opened() -> tuple[QuotesState, OpenRoutesState]:
    pricing = Pricing(FxRates(Decimal("1.17"), T0), DEFAULT_PROFILE, "v1", default_fee_schedule())
    de = make_quote(ASIN, Market.DE, amazon=2000, last_update=T0)
    fr = make_quote(ASIN, Market.FR, buy_box=5000, fba_fee=300, referral_pct=15.0, last_update=T0)
    policy = DetectionPolicy()
    step = apply_quote(fr, apply_quote(de, {}, {}, policy, pricing).quotes, {}, policy, pricing)
    assert step.open
    return QuotesState(quotes=step.quotes, profile_version="v1"), OpenRoutesState(routes=step.open)


def test_the_quotes_state_records_the_profile_version() -> None:
    state, _ = _opened()
    data = QUOTES_STATE.encode(state)
    assert QUOTES_STATE.decode(data) == state
    assert QUOTES_STATE.decode(data).profile_version == "v1"
    assert recorded_profile_version(data) == "v1"


def test_a_quotes_state_written_before_the_field_decodes_with_no_version() -> None:
    state, _ = _opened()
    # As a worker before this field wrote it: the envelope without profile_version ...
    old = orjson.dumps({"schema_version": 1, "quotes": msgspec.to_builtins(state.quotes)})
    assert b"profile_version" not in old
    decoded = QUOTES_STATE.decode(old)
    assert decoded.profile_version is None
    assert decoded.quotes == state.quotes
    assert recorded_profile_version(old) is None
    # ... and the bare pre-envelope object.
    bare = orjson.dumps(msgspec.to_builtins(state.quotes))
    assert QUOTES_STATE.decode(bare).profile_version is None
    assert recorded_profile_version(bare) is None


def test_the_open_routes_quote_times_are_read_without_the_breakdown() -> None:
    _, routes = _opened()
    data = OPEN_ROUTES_STATE.encode(routes)
    assert open_route_quote_times(data) == [T0, T0]
    # The bare pre-envelope form is read by the full decoder (none of its routes is v2 here,
    # so it is refused the same way the detector refuses it).
    with pytest.raises(ContractError):
        open_route_quote_times(orjson.dumps({"DE:FR": {"route": "DE:FR"}}))
