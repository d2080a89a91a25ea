"""The values of the worker's tables, i.e. the messages of their changelog topics
(``<app id>-quotes-changelog``, ``<app id>-open-opportunities-changelog``).

Only the worker reads them, so they hold the domain's own value types (encoded by msgspec:
no conversion on the hot path), under a versioned envelope. Quotes written before the
envelope existed (a bare ``{market: quote}`` object) are still read, so an upgraded worker
recovers its quotes from an older changelog.

Open routes are version 2: each holds the route's last
:class:`app.domain.fees.RouteBreakdown` and the profile version it was priced with. Version 1
(and the bare object before it) held figures of the former single pricing policy that the
fee breakdown cannot be rebuilt from; they are refused (``unsupported_version``), and
:func:`tables.open_opportunities.read_open_routes` reads them as no open route (the next
evaluation of the ASIN opens what is still an opportunity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Generic, Literal, TypeVar

import msgspec

from app.contracts.base import ContractError, Message, Version1, describe
from app.domain.detection import OpenOpportunity
from app.domain.markets import Market
from app.domain.quote import MarketQuote

__all__ = ["OPEN_ROUTES_STATE", "QUOTES_STATE", "OpenRoutesState", "QuotesState", "StateCodec"]


class QuotesState(Message, kw_only=True, frozen=True):
    """Table ``quotes``, key ASIN: the latest quote of every market."""

    schema_version: Annotated[Version1, describe("1")] = 1
    quotes: Annotated[dict[Market, MarketQuote], describe("market -> its latest quote")]


class OpenRoutesState(Message, kw_only=True, frozen=True):
    """Table ``open-opportunities``, key ASIN: the open routes."""

    schema_version: Annotated[Literal[2], describe("2 (routes priced by fee breakdown)")] = 2
    routes: Annotated[dict[str, OpenOpportunity], describe("BUY:SELL -> the open route")]


S = TypeVar("S", bound=msgspec.Struct)


@dataclass(frozen=True)
class StateCodec(Generic[S]):
    """Encodes a state type; decodes it, or its bare pre-version form ``legacy`` (a type
    whose value becomes the state's field ``wrap``)."""

    state: type[S]
    legacy: Any  # None: no pre-envelope form is read
    wrap: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_decoder", msgspec.json.Decoder(self.state))
        object.__setattr__(
            self, "_legacy", None if self.legacy is None else msgspec.json.Decoder(self.legacy)
        )
        object.__setattr__(self, "_encoder", msgspec.json.Encoder())

    def encode(self, state: S) -> bytes:
        encoder: msgspec.json.Encoder = self._encoder  # type: ignore[attr-defined]
        return encoder.encode(state)

    def decode(self, data: bytes) -> S:
        decoder: msgspec.json.Decoder[S] = self._decoder  # type: ignore[attr-defined]
        try:
            return decoder.decode(data)
        except msgspec.ValidationError as first:
            legacy: msgspec.json.Decoder[Any] | None = self._legacy  # type: ignore[attr-defined]
            if legacy is None:
                raise _refusal(self.state.__name__, data, first) from None
            try:
                bare = legacy.decode(data)
            except msgspec.ValidationError:
                raise ContractError("invalid_shape", f"{self.state.__name__}: {first}") from None
            return self.state(**{self.wrap: bare})
        except msgspec.DecodeError as exc:
            raise ContractError("malformed_json", f"{self.state.__name__}: {exc}") from None


def _refusal(name: str, data: bytes, error: msgspec.ValidationError) -> ContractError:
    try:
        version = msgspec.json.decode(data, type=_Versioned).schema_version
    except msgspec.ValidationError:
        version = 1  # a bare pre-envelope value
    if version != 2:
        return ContractError("unsupported_version", f"{name} schema_version {version!r}")
    return ContractError("invalid_shape", f"{name}: {error}")


class _Versioned(msgspec.Struct):
    schema_version: Any = 1


QUOTES_STATE: Final[StateCodec[QuotesState]] = StateCodec(
    QuotesState, dict[Market, MarketQuote], "quotes"
)
OPEN_ROUTES_STATE: Final[StateCodec[OpenRoutesState]] = StateCodec(OpenRoutesState, None, "routes")
