"""``seller-profile``: seller (``b"default"``) -> the latest usable ``seller.profile`` message,
stored as its bytes (:class:`app.contracts.seller_profile.SellerProfileMessage`, the complete
validated profile); a global table, so every worker knows the profile whatever partitions it
owns.

:func:`profile_in_force` is the one answer to "which seller profile applies" inside the
worker; :func:`profile_state` adds its ``version`` (a fingerprint of its content: it changes
when the profile changes, so a sweep can tell that routes were evaluated with another one)
and who published it when. Before any profile was published: the default profile."""

from __future__ import annotations

from app.contracts.seller_profile import (
    DEFAULT_IN_FORCE,
    PROFILE_KEY_DEFAULT,
    SELLER_PROFILE,
    ProfileInForce,
    profile_from_message,
)
from app.domain.profile import SellerProfile
from app.faust_app import app
from tables.store_options import rocksdb_options

seller_profile_table = app.GlobalTable(
    "seller-profile",
    key_type=bytes,
    value_type=bytes,
    partitions=1,
    help="The seller profile in force per seller (from the seller.profile topic).",
    options=rocksdb_options(),
)

_parsed: tuple[bytes | None, ProfileInForce] = (None, DEFAULT_IN_FORCE)


def write_profile(key: bytes, in_force: ProfileInForce) -> None:
    """Hold ``in_force`` as the profile of seller ``key``."""
    seller_profile_table[key] = SELLER_PROFILE.encode(in_force.message())


def profile_state() -> ProfileInForce:
    """The profile in force now with its version and metadata: the newest usable profile from
    ``seller.profile`` (this table), or the default before any was published (decoded once
    per new value)."""
    global _parsed
    stored: bytes | None = seller_profile_table.get(PROFILE_KEY_DEFAULT)
    if stored is None:
        return DEFAULT_IN_FORCE
    if stored != _parsed[0]:
        _parsed = (stored, profile_from_message(PROFILE_KEY_DEFAULT, stored))
    return _parsed[1]


def profile_in_force() -> SellerProfile:
    """The seller profile in force now (see :func:`profile_state`)."""
    return profile_state().profile
