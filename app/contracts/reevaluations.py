"""``arbitrage.reevaluations``: a request to re-evaluate every route of one ASIN (key = the
ASIN; as many partitions as ``keepa.products``, so it is co-partitioned with it and with the
tables keyed by ASIN).

Written by the worker's sweep (:mod:`agents.sweep`), which may not write the tables itself:
only the detector agent, which owns the key's partition, does. The detector consumes this
topic together with ``keepa.products`` (one agent, so all the work of a key is serialised)
and re-evaluates the ASIN's stored quotes with the profile in force and staleness measured
at ``as_of`` (:func:`app.domain.asin_state.reevaluate`). A request that cannot be read goes
to ``arbitrage.reevaluations.dlq`` with its reason; it never stops the agent.

``as_of`` is the sweep's wall-clock time, written into the message: the re-evaluation reads
no clock, so its effect is a function of the state and the message.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Final

import msgspec

from app.contracts.base import Asin, Codec, ContractError, Message, UtcDatetime, Version1, describe
from app.domain.sweep import Reason
from app.domain.utc import format_utc

__all__ = [
    "REEVALUATION",
    "ReevaluationReason",
    "ReevaluationRequest",
    "request_from_message",
]

#: ``profile_changed``: the profile in force is not the one the ASIN was evaluated with;
#: ``wall_clock``: a quote of an open route is older than ``STALE_AFTER_HOURS`` at ``as_of``.
ReevaluationReason = Reason


class ReevaluationRequest(Message, kw_only=True, frozen=True):
    """Re-evaluate the routes of ``asin`` with the profile in force, staleness at ``as_of``."""

    schema_version: Annotated[Version1, describe("1 (a message without it is version 1)")] = 1
    asin: Annotated[Asin, describe("the ASIN (= the key)")]
    reason: Annotated[
        ReevaluationReason,
        describe(
            "profile_changed (the profile in force differs from the one the ASIN was "
            "evaluated with) or wall_clock (a quote of an open route passed STALE_AFTER_HOURS)"
        ),
    ]
    as_of: Annotated[
        UtcDatetime,
        describe("the sweep's wall-clock time (UTC): staleness is measured at it"),
    ]
    profile_version: Annotated[
        str, describe("the version of the profile in force as the sweep saw it")
    ]

    def __post_init__(self) -> None:
        if self.as_of.utcoffset() is None:  # (UtcDatetime guarantees a zone when decoded)
            raise ValueError("as_of must carry a time zone")
        msgspec.structs.force_setattr(self, "as_of", self.as_of.astimezone(UTC))

    @property
    def cause(self) -> str:
        """What the events of this re-evaluation carry in their ids
        (:func:`app.domain.detection.make_event_id`): ``<reason>@<as_of>``."""
        return f"{self.reason}@{format_utc(self.as_of)}"


REEVALUATION: Final = Codec(ReevaluationRequest)


def request_from_message(key: bytes | None, value: bytes | None) -> ReevaluationRequest:
    """The request of one ``arbitrage.reevaluations`` message; :class:`ContractError` when it
    has none usable: a decoding error (``malformed_json``, ``unsupported_version``,
    ``invalid_shape``...), ``missing_key`` or ``asin_mismatch`` (the key is not the ASIN)."""
    request = REEVALUATION.decode(value)
    if not key:
        raise ContractError("missing_key", "the key must be the ASIN")
    if key != request.asin.encode():
        raise ContractError("asin_mismatch", f"key {key!r} is not the ASIN {request.asin!r}")
    return request
