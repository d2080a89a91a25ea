"""The ``seller.profile`` contract: round trip, versions, the profile's validation as the
reason of a refused message, and the fold every reader uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest

from app.contracts.base import ContractError
from app.contracts.seller_profile import (
    DEFAULT_IN_FORCE,
    PROFILE_KEY_DEFAULT,
    SELLER_PROFILE,
    ProfileInForce,
    SellerProfileMessage,
    latest_profile,
    profile_from_message,
    profile_version,
)
from app.domain.markets import Market
from app.domain.profile import DEFAULT_PROFILE, profile_to_mapping, with_overrides

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
STRICTER = with_overrides(
    DEFAULT_PROFILE, {"thresholds.min_roi": "0.25", "fulfilment.FR.mode": "efn"}
)


def raw(profile: object, **fields: object) -> bytes:
    return orjson.dumps({"profile": profile, "updated_at": "2026-03-02T09:30:00Z", **fields})


def test_a_published_profile_round_trips_through_its_message() -> None:
    published = ProfileInForce.published(STRICTER, updated_at=T0, updated_by="cli:alice")
    data = SELLER_PROFILE.encode(published.message())
    decoded = SELLER_PROFILE.decode(data)
    assert decoded.schema_version == 1
    assert decoded.profile == profile_to_mapping(STRICTER)
    assert decoded.profile["thresholds"]["min_roi"] == "0.25"  # exact, as a string
    assert (decoded.updated_at, decoded.updated_by) == (T0, "cli:alice")
    assert profile_from_message(PROFILE_KEY_DEFAULT, data) == published
    assert published.profile.thresholds.min_roi == Decimal("0.25")
    assert published.profile.fulfilment[Market.FR].mode == "efn"


def test_the_version_follows_the_content_not_the_publication() -> None:
    again = ProfileInForce.published(STRICTER, updated_at=T0 + timedelta(days=1), updated_by="x")
    first = ProfileInForce.published(STRICTER, updated_at=T0, updated_by="y")
    assert first.version == again.version == profile_version(STRICTER)
    assert len(first.version) == 16
    assert first.version != DEFAULT_IN_FORCE.version
    # The default published explicitly is the default: same version as none published.
    default = ProfileInForce.published(DEFAULT_PROFILE, updated_at=T0, updated_by="api")
    assert default.version == DEFAULT_IN_FORCE.version
    # One changed field changes it.
    other = with_overrides(STRICTER, {"prep_eur_cents": "1"})
    assert profile_version(other) != first.version


def test_updated_at_is_kept_in_utc() -> None:
    cet = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    published = ProfileInForce.published(STRICTER, updated_at=cet, updated_by="")
    assert published.updated_at == T0
    assert published.updated_at.tzinfo is UTC
    with pytest.raises(ValueError, match="time zone"):
        ProfileInForce.published(STRICTER, updated_at=T0.replace(tzinfo=None), updated_by="")
    stored = SELLER_PROFILE.encode(published.message())
    assert b'"updated_at":"2026-03-02T09:30:00Z"' in stored


def test_missing_fields_take_the_default_and_the_message_needs_no_version() -> None:
    in_force = profile_from_message(PROFILE_KEY_DEFAULT, raw({"prep_eur_cents": 40}))
    assert in_force.profile == with_overrides(DEFAULT_PROFILE, {"prep_eur_cents": "40"})
    assert in_force.updated_by == ""  # optional field


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"thresholds": {"min_roi": "-0.1"}}, "thresholds.min_roi"),
        ({"thresholds": {"min_roi": 0.15}}, "thresholds.min_roi"),  # a float is not exact
        ({"fulfilment": {"FR": {"mode": "drone"}}}, "fulfilment.FR.mode"),
        ({"fulfilment": {"FR": {"mode": "mfn"}}}, "fulfilment.FR.mfn_shipping_minor"),
        ({"vat_registered_in": ["DE", "US"]}, "vat_registered_in"),
        ({"inbound_shipping": {"step_g": 0}}, "inbound_shipping.step_g"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_an_invalid_profile_is_refused_with_its_field(profile: object, field: str) -> None:
    with pytest.raises(ContractError) as caught:
        profile_from_message(PROFILE_KEY_DEFAULT, raw(profile))
    assert caught.value.code == "invalid_profile"
    assert f"profile field {field!r}" in caught.value.message


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        (b"alice", raw({}), "unsupported_seller"),
        (None, raw({}), "unsupported_seller"),
        (PROFILE_KEY_DEFAULT, raw({}, schema_version=2), "unsupported_version"),
        (PROFILE_KEY_DEFAULT, b"{not json", "malformed_json"),
        (PROFILE_KEY_DEFAULT, None, "malformed_json"),  # a tombstone
        (PROFILE_KEY_DEFAULT, b"[1]", "not_an_object"),
        (PROFILE_KEY_DEFAULT, raw("not a mapping"), "invalid_shape"),
        (PROFILE_KEY_DEFAULT, orjson.dumps({"profile": {}}), "invalid_shape"),  # no updated_at
        (
            PROFILE_KEY_DEFAULT,
            orjson.dumps({"profile": {}, "updated_at": "2026-03-02T09:30:00"}),  # no zone
            "invalid_shape",
        ),
    ],
)
def test_unusable_messages_say_why(key: bytes | None, value: bytes | None, code: str) -> None:
    with pytest.raises(ContractError) as caught:
        profile_from_message(key, value)
    assert caught.value.code == code


def test_the_fold_keeps_the_last_usable_profile() -> None:
    good = SELLER_PROFILE.encode(
        ProfileInForce.published(STRICTER, updated_at=T0, updated_by="api").message()
    )
    assert latest_profile([]) is DEFAULT_IN_FORCE
    assert latest_profile([(PROFILE_KEY_DEFAULT, raw({"prep_eur_cents": -1}))]) is DEFAULT_IN_FORCE
    folded = latest_profile(
        [
            (PROFILE_KEY_DEFAULT, raw({"prep_eur_cents": 7})),
            (PROFILE_KEY_DEFAULT, good),
            (PROFILE_KEY_DEFAULT, raw({"thresholds": {"min_roi": "2x"}})),  # skipped
            (b"alice", raw({})),  # skipped
            (PROFILE_KEY_DEFAULT, None),  # skipped
        ]
    )
    assert folded.profile == STRICTER
    assert folded.updated_by == "api"


def test_the_default_has_no_message() -> None:
    assert DEFAULT_IN_FORCE.profile == DEFAULT_PROFILE
    assert DEFAULT_IN_FORCE.updated_at is None
    with pytest.raises(ValueError, match="not published"):
        DEFAULT_IN_FORCE.message()


def test_the_message_type_is_strict_and_frozen() -> None:
    message = SellerProfileMessage(profile={}, updated_at=T0)
    with pytest.raises(AttributeError):
        message.updated_by = "x"  # type: ignore[misc]
