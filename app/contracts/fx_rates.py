"""``fx.rates``: the EUR/GBP reference rate (compacted; key ``GBP``, one partition).

Published by the ``fx_rates`` DAG (:func:`app.ingest.fx.fx_value` builds the message); the
worker's ``fx`` agent reads it with :func:`rate_from_message` into the global table
``fx-rates``, and the detector converts GBP amounts with the newest rate.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final, Literal

from app.contracts.base import (
    Codec,
    ContractError,
    Message,
    UtcDatetime,
    Version1,
    describe,
    require_finite,
)
from app.domain.fx import FxRates

__all__ = ["FX_KEY_GBP", "FX_RATE", "FxRate", "rate_from_message"]

#: Key of the EUR/GBP message (one message per currency on the compacted topic).
FX_KEY_GBP: Final = b"GBP"


class FxRate(Message, kw_only=True, frozen=True):
    """How many EUR one GBP is worth, as of ``as_of``."""

    schema_version: Annotated[Version1, describe("1 (a message without it is version 1)")] = 1
    currency: Annotated[Literal["GBP"], describe("the currency priced: GBP (= the key)")] = "GBP"
    eur_per_gbp: Annotated[Decimal, describe('EUR per 1 GBP, a decimal string, e.g. "1.189980"')]
    as_of: Annotated[UtcDatetime, describe("when the rate was set (ECB: the day at 16:00 UTC)")]
    source: Annotated[str, describe("who set it: ecb")] = "ecb"

    def __post_init__(self) -> None:
        require_finite(self.eur_per_gbp, "eur_per_gbp", positive=True)

    @classmethod
    def from_rates(cls, rates: FxRates, *, source: str = "ecb") -> FxRate:
        return cls(currency="GBP", eur_per_gbp=rates.eur_per_gbp, as_of=rates.as_of, source=source)

    def to_rates(self) -> FxRates:
        """The domain rates (``as_of`` in UTC)."""
        return FxRates(eur_per_gbp=self.eur_per_gbp, as_of=self.as_of)


FX_RATE: Final = Codec(FxRate)


def rate_from_message(key: bytes | None, value: bytes | None) -> FxRate:
    """The rate of one ``fx.rates`` message; :class:`ContractError` when it has none usable
    (``unsupported_currency`` for a key other than ``GBP``, or a decoding error)."""
    if key != FX_KEY_GBP:
        raise ContractError("unsupported_currency", f"fx.rates key {key!r} is not b'GBP'")
    return FX_RATE.decode(value)
