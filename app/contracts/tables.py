"""The values of the worker's tables, i.e. the messages of their changelog topics
(``<app id>-quotes-changelog``, ``<app id>-open-opportunities-changelog``).

Only the worker reads them, so they hold the domain's own value types (encoded by msgspec:
no conversion on the hot path), under a versioned envelope. Quotes written before the
envelope existed (a bare ``{market: quote}`` object) are still read, so an upgraded worker
recovers its quotes from an older changelog.

Quotes are version 2: each quote records its provenance (``source``: ``product`` or
``notification``, and the ``notification_id`` of a notification quote). Version 1 and the bare
object, written before Keepa notifications were merged, are read as they are: their quotes
have no provenance fields and are read as ``product`` quotes, which they all were.

Quotes are version 3: each quote carries its market's quality signals (``signals``,
:class:`app.domain.signals.MarketSignals`). Versions 2 and 1 are read as they are: their
quotes have no signals (``null``: unknown) until the next Keepa product of their market.

Open routes are version 2: each holds the route's last
:class:`app.domain.fees.RouteBreakdown` and the profile version it was priced with. Version 1
(and the bare object before it), written by a worker of the former single pricing policy, is
converted on read (:mod:`app.contracts.version1`): the route, the published profit and ROI,
``first_seen``/``last_seen`` are kept as they were, which is what the close and material-change
decisions use, and the version-1 figures become the route's breakdown (profile version
``unknown``). A worker upgraded in place so still updates and closes the routes it had opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Generic, Literal, TypeVar, get_args, get_origin

import msgspec

from app.contracts.base import ContractError, Message, UtcDatetime, Version1, describe
from app.contracts.version1 import UNKNOWN, CostsV1, route_breakdown_v1
from app.domain.detection import OpenOpportunity
from app.domain.markets import Market
from app.domain.quote import MarketQuote

__all__ = [
    "OPEN_ROUTES_STATE",
    "QUOTES_STATE",
    "OpenRoutesState",
    "QuotesState",
    "StateCodec",
    "open_route_quote_times",
    "recorded_profile_version",
]


class QuotesState(Message, kw_only=True, frozen=True):
    """Table ``quotes``, key ASIN: the latest quote of every market, and the version of the
    seller profile the ASIN's routes were last evaluated with (the sweep compares it with the
    profile in force; a value written before the field existed has none)."""

    schema_version: Annotated[
        Literal[1, 2, 3],
        describe(
            "3 (quotes with their signals); 2 (with their provenance) is read without signals, "
            "1 as product quotes without signals"
        ),
    ] = 3
    quotes: Annotated[dict[Market, MarketQuote], describe("market -> its latest quote")]
    profile_version: Annotated[
        str | None,
        describe("the profile version the routes were last evaluated with (null: unknown)"),
    ] = None


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
        object.__setattr__(self, "_versions", _versions_of(self.state))
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
        versions: tuple[Any, ...] = self._versions  # type: ignore[attr-defined]
        try:
            return decoder.decode(data)
        except msgspec.ValidationError as first:
            legacy: msgspec.json.Decoder[Any] | None = self._legacy  # type: ignore[attr-defined]
            if legacy is None:
                raise _refusal(self.state.__name__, versions, data, first) from None
            try:
                bare = legacy.decode(data)
            except msgspec.ValidationError:
                raise _refusal(self.state.__name__, versions, data, first) from None
            return self.state(**{self.wrap: bare})
        except msgspec.DecodeError as exc:
            raise ContractError("malformed_json", f"{self.state.__name__}: {exc}") from None


def _versions_of(state: type[msgspec.Struct]) -> tuple[Any, ...]:
    """The ``schema_version`` values a state type reads (its ``Literal``)."""
    [hint] = [f.type for f in msgspec.structs.fields(state) if f.name == "schema_version"]
    if get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    return get_args(hint)


def _refusal(
    name: str, versions: tuple[Any, ...], data: bytes, error: msgspec.ValidationError
) -> ContractError:
    try:
        version = msgspec.json.decode(data, type=_Versioned).schema_version
    except msgspec.ValidationError:
        version = 1  # a bare pre-envelope value
    if version not in versions:
        return ContractError("unsupported_version", f"{name} schema_version {version!r}")
    return ContractError("invalid_shape", f"{name}: {error}")


class _Versioned(msgspec.Struct):
    schema_version: Any = 1


QUOTES_STATE: Final[StateCodec[QuotesState]] = StateCodec(
    QuotesState, dict[Market, MarketQuote], "quotes"
)


class _EvaluationV1(msgspec.Struct, frozen=True, kw_only=True):
    """The part of a version-1 open route's last evaluation that is read (other keys are
    ignored)."""

    asin: str
    title: str | None = None
    buy_market: Market
    sell_market: Market
    buy_price_minor: int
    sell_price_minor: int
    buy_price_eur_cents: int
    sell_price_eur_cents: int
    breakdown: CostsV1
    profit_eur_cents: int
    fba_fee_estimated: bool = False
    buy_observed_at: UtcDatetime
    sell_observed_at: UtcDatetime
    eur_per_gbp: Decimal
    vat_mode: Literal["registered", "unrecoverable"] = "registered"


class _OpenV1(msgspec.Struct, frozen=True, kw_only=True):
    route: str
    profit_eur_cents: int
    roi: Decimal
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    evaluation: _EvaluationV1

    def upgrade(self) -> OpenOpportunity:
        e = self.evaluation
        breakdown = route_breakdown_v1(
            asin=e.asin,
            title=e.title,
            buy_market=e.buy_market,
            sell_market=e.sell_market,
            buy_price_minor=e.buy_price_minor,
            sell_price_minor=e.sell_price_minor,
            buy_price_eur_cents=e.buy_price_eur_cents,
            sell_price_eur_cents=e.sell_price_eur_cents,
            costs=e.breakdown,
            profit_eur_cents=e.profit_eur_cents,
            purchase_vat_is_cost=e.vat_mode == "unrecoverable",
            fba_fee_estimated=e.fba_fee_estimated,
            eur_per_gbp=e.eur_per_gbp,
            buy_observed_at=e.buy_observed_at,
            sell_observed_at=e.sell_observed_at,
        )
        return OpenOpportunity(
            route=self.route,
            profit_eur_cents=self.profit_eur_cents,
            roi=self.roi,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            evaluation=breakdown,
            profile_version=UNKNOWN,
        )


class _OpenRoutesStateV1(msgspec.Struct, frozen=True, kw_only=True):
    schema_version: Version1 = 1
    routes: dict[str, _OpenV1]


_V1_STATE: Final = msgspec.json.Decoder(_OpenRoutesStateV1)
_V1_BARE: Final = msgspec.json.Decoder(dict[str, _OpenV1])


@dataclass(frozen=True)
class _OpenRoutesCodec(StateCodec[OpenRoutesState]):
    """Version 2; version 1 and the bare object before it converted (see the module doc)."""

    def decode(self, data: bytes) -> OpenRoutesState:
        try:
            return super().decode(data)
        except ContractError as exc:
            if exc.code != "unsupported_version" or _state_version(data) != 1:
                raise
        try:
            routes = _V1_STATE.decode(data).routes
        except msgspec.ValidationError as enveloped:
            try:
                routes = _V1_BARE.decode(data)
            except msgspec.ValidationError:
                raise ContractError(
                    "invalid_shape", f"OpenRoutesState version 1: {enveloped}"
                ) from None
        return OpenRoutesState(routes={key: route.upgrade() for key, route in routes.items()})


def _state_version(data: bytes) -> Any:
    try:
        return msgspec.json.decode(data, type=_Versioned).schema_version
    except msgspec.ValidationError:
        return 1  # a bare pre-envelope value


OPEN_ROUTES_STATE: Final[StateCodec[OpenRoutesState]] = _OpenRoutesCodec(
    OpenRoutesState, None, "routes"
)


class _RecordedVersion(msgspec.Struct):
    profile_version: str | None = None


_RECORDED_VERSION: Final = msgspec.json.Decoder(_RecordedVersion)


def recorded_profile_version(data: bytes) -> str | None:
    """The ``profile_version`` of a stored :class:`QuotesState` without decoding its quotes
    (the sweep reads it for every ASIN); ``None`` for a value written before the field
    existed, the bare pre-envelope form included."""
    return _RECORDED_VERSION.decode(data).profile_version


class _QuoteTimes(msgspec.Struct):
    buy_observed_at: UtcDatetime
    sell_observed_at: UtcDatetime


class _RouteTimes(msgspec.Struct):
    evaluation: _QuoteTimes


class _RoutesTimes(msgspec.Struct):
    routes: dict[str, _RouteTimes]


_ROUTES_TIMES: Final = msgspec.json.Decoder(_RoutesTimes)


def open_route_quote_times(data: bytes) -> list[datetime]:
    """The ``observed_at`` of both quotes of every open route in a stored open-routes state
    (any version), decoded without the rest of the breakdown (the sweep reads it for every
    ASIN with an open route)."""
    try:
        routes = _ROUTES_TIMES.decode(data).routes
    except msgspec.ValidationError:  # the bare pre-envelope form: the full decoder reads it
        full = OPEN_ROUTES_STATE.decode(data).routes
        return [
            t
            for route in full.values()
            for t in (route.evaluation.buy_observed_at, route.evaluation.sell_observed_at)
        ]
    return [
        t
        for route in routes.values()
        for t in (route.evaluation.buy_observed_at, route.evaluation.sell_observed_at)
    ]
