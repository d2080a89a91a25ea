"""The values of the worker's tables, i.e. the messages of their changelog topics
(``<app id>-quotes-changelog``, ``<app id>-open-opportunities-changelog``).

Only the worker reads them, so they hold the domain's own value types (encoded by msgspec:
no conversion on the hot path), under a versioned envelope. Values written before the
envelope existed (a bare ``{market: quote}`` / ``{route: open route}`` object) are still
read, so an upgraded worker recovers its state from an older changelog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Generic, TypeVar

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

    schema_version: Annotated[Version1, describe("1")] = 1
    routes: Annotated[dict[str, OpenOpportunity], describe("BUY:SELL -> the open route")]


S = TypeVar("S", bound=msgspec.Struct)


@dataclass(frozen=True)
class StateCodec(Generic[S]):
    """Encodes a state type; decodes it, or its bare pre-version form ``legacy`` (a type
    whose value becomes the state's field ``wrap``)."""

    state: type[S]
    legacy: Any
    wrap: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_decoder", msgspec.json.Decoder(self.state))
        object.__setattr__(self, "_legacy", msgspec.json.Decoder(self.legacy))
        object.__setattr__(self, "_encoder", msgspec.json.Encoder())

    def encode(self, state: S) -> bytes:
        encoder: msgspec.json.Encoder = self._encoder  # type: ignore[attr-defined]
        return encoder.encode(state)

    def decode(self, data: bytes) -> S:
        decoder: msgspec.json.Decoder[S] = self._decoder  # type: ignore[attr-defined]
        try:
            return decoder.decode(data)
        except msgspec.ValidationError as first:
            legacy: msgspec.json.Decoder[Any] = self._legacy  # type: ignore[attr-defined]
            try:
                bare = legacy.decode(data)
            except msgspec.ValidationError:
                raise ContractError("invalid_shape", f"{self.state.__name__}: {first}") from None
            return self.state(**{self.wrap: bare})
        except msgspec.DecodeError as exc:
            raise ContractError("malformed_json", f"{self.state.__name__}: {exc}") from None


QUOTES_STATE: Final[StateCodec[QuotesState]] = StateCodec(
    QuotesState, dict[Market, MarketQuote], "quotes"
)
OPEN_ROUTES_STATE: Final[StateCodec[OpenRoutesState]] = StateCodec(
    OpenRoutesState, dict[str, OpenOpportunity], "routes"
)
