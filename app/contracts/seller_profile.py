"""``seller.profile``: the seller profile in force (compacted; one partition; key = the seller).

The key names the seller the profile belongs to. Today there is one seller, ``default``
(:data:`PROFILE_KEY_DEFAULT`); a message under any other key is refused
(``unsupported_seller``) until per-seller profiles exist, which will then be keyed by the
seller's id on the same topic without a format change.

The value carries the profile as the JSON mapping of
:func:`app.domain.profile.profile_to_mapping` (Decimals as strings, markets as codes). It is
validated by :class:`app.domain.profile.SellerProfile` when read: a missing field takes the
default profile's value, an invalid one makes the message unusable (``invalid_profile``, the
reason names the field). Publishers (the API's ``PUT /profile`` and ``arbitrage profile``,
both through :mod:`app.ingest.profile_topic`) write the complete, validated mapping.

One function reads a message for every reader, :func:`profile_from_message`: the worker's
``profile`` agent (which dead-letters what it cannot read into ``seller.profile.dlq``) and
:func:`latest_profile`, which folds a whole topic the same way (the API and the CLI read the
topic without Faust), so they agree on the profile in force: the last usable message, or
:data:`app.domain.profile.DEFAULT_PROFILE` before any.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import msgspec

from app.contracts.base import Codec, ContractError, Message, UtcDatetime, Version1, describe
from app.domain.profile import (
    DEFAULT_PROFILE,
    ProfileError,
    SellerProfile,
    profile_from_mapping,
    profile_to_mapping,
)

__all__ = [
    "DEFAULT_IN_FORCE",
    "PROFILE_KEY_DEFAULT",
    "SELLER_PROFILE",
    "SELLER_PROFILE_TOPIC",
    "ProfileInForce",
    "SellerProfileMessage",
    "latest_profile",
    "profile_from_message",
    "profile_version",
]

#: The topic, before ``TOPIC_PREFIX`` (compacted, one partition).
SELLER_PROFILE_TOPIC: Final = "seller.profile"
#: Key of the one seller's profile (per-seller profiles would be keyed by the seller's id).
PROFILE_KEY_DEFAULT: Final = b"default"


class SellerProfileMessage(Message, kw_only=True, frozen=True):
    """The seller profile that applies from now on, and who set it when."""

    schema_version: Annotated[Version1, describe("1 (a message without it is version 1)")] = 1
    profile: Annotated[
        dict[str, Any],
        describe(
            "the profile: the fields of app.domain.profile.SellerProfile as profile_to_mapping "
            "writes them (see docs/pricing.md); a missing field takes the default's value, an "
            "invalid one makes the message unusable (invalid_profile)"
        ),
    ]
    updated_at: Annotated[UtcDatetime, describe("when it was published (UTC)")]
    updated_by: Annotated[str, describe("who published it, free text (e.g. api, cli:alice)")] = ""


SELLER_PROFILE: Final = Codec(SellerProfileMessage)

_CANONICAL: Final = msgspec.json.Encoder(order="sorted")


def profile_version(profile: SellerProfile) -> str:
    """A short fingerprint of the profile's content (16 hex digits of a SHA-256 of its
    canonical JSON): equal profiles have equal versions, so a sweep can tell whether the
    profile in force differs from the one its routes were last evaluated with. The default
    profile has a version too, the same whether or not it was ever published."""
    canonical = _CANONICAL.encode(profile_to_mapping(profile))
    return hashlib.sha256(canonical).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ProfileInForce:
    """A usable profile and its metadata (``updated_at``/``updated_by`` are ``None`` for the
    default, in force before any profile was published)."""

    profile: SellerProfile
    version: str
    updated_at: datetime | None = None
    updated_by: str | None = None

    @classmethod
    def published(
        cls, profile: SellerProfile, *, updated_at: datetime, updated_by: str
    ) -> ProfileInForce:
        if updated_at.tzinfo is None:
            raise ValueError("updated_at must carry a time zone")
        return cls(profile, profile_version(profile), updated_at.astimezone(UTC), updated_by)

    def message(self) -> SellerProfileMessage:
        """The message of this profile (the complete mapping); the default has none."""
        if self.updated_at is None:
            raise ValueError("the default profile was not published: it has no message")
        return SellerProfileMessage(
            profile=profile_to_mapping(self.profile),
            updated_at=self.updated_at,
            updated_by=self.updated_by or "",
        )


#: Before any profile was published.
DEFAULT_IN_FORCE: Final = ProfileInForce(DEFAULT_PROFILE, profile_version(DEFAULT_PROFILE))


def profile_from_message(key: bytes | None, value: bytes | None) -> ProfileInForce:
    """The profile of one ``seller.profile`` message; :class:`ContractError` when it has none
    usable: ``unsupported_seller`` (a key other than ``default``), a decoding error
    (``unsupported_version``, ``invalid_shape``...) or ``invalid_profile`` (the profile fails
    :class:`SellerProfile`'s validation; the message names the field)."""
    if key != PROFILE_KEY_DEFAULT:
        raise ContractError(
            "unsupported_seller", f"seller.profile key {key!r} is not {PROFILE_KEY_DEFAULT!r}"
        )
    message = SELLER_PROFILE.decode(value)
    try:
        profile = profile_from_mapping(message.profile)
    except ProfileError as exc:
        raise ContractError("invalid_profile", str(exc)) from None
    return ProfileInForce.published(
        profile, updated_at=message.updated_at, updated_by=message.updated_by
    )


def latest_profile(messages: Iterable[tuple[bytes | None, Any]]) -> ProfileInForce:
    """The profile in force after ``messages`` (a topic's ``(key, value)`` in offset order):
    the last usable one, else :data:`DEFAULT_IN_FORCE` (unusable ones are skipped, as the
    worker skips them)."""
    found = DEFAULT_IN_FORCE
    for key, value in messages:
        try:
            found = profile_from_message(key, value)
        except ContractError:
            continue
    return found
