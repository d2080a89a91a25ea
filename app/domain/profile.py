"""The seller's situation: what a profit computation must know about who sells.

A :class:`SellerProfile` is immutable and validated on construction; a bad value raises
:class:`ProfileError` naming the field (dotted path, e.g. ``thresholds.min_roi``).
:func:`profile_from_mapping` / :func:`profile_to_mapping` convert it from / to a JSON-friendly
mapping (Decimals as strings, markets as codes), and :func:`with_overrides` applies
``{"dotted.key": "value"}`` strings (``arbitrage profile set K=V``).

:data:`DEFAULT_PROFILE` is documented in docs/pricing.md: a business established in Germany,
VAT-registered in all five markets, stock held in every market (Pan-European FBA: the local
FBA fee everywhere), input VAT recoverable, third-party offers with a VAT invoice, inbound
shipping EUR 4.50 + EUR 0.12 per started 100 g (EUR 1.20/kg; 2 kg assumed when no weight is
known), EUR 5.00 customs brokerage per unit on routes to or from GB, no import duty (UK-EU
trade is tariff-free for goods of qualifying origin under the Trade and Cooperation
Agreement's rules of origin: goods of other origin can owe duty, set ``import_duty_rate``),
no prep cost, no currency conversion fee, no returns allowance, thresholds EUR 5.00 profit
and 15 % ROI (today's defaults) and no sales-rank limit. Costs the seller pays itself
(shipping, customs, duty, prep) are EUR cents; a merchant-fulfilled shipping cost is in the
sell market's minor unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Literal, get_args

from app.domain.markets import MARKET_CODES, Market, Route, UnknownMarketError

__all__ = [
    "DEFAULT_PROFILE",
    "FulfilmentMode",
    "InboundShipping",
    "ProfileError",
    "SellFulfilment",
    "SellerProfile",
    "Thresholds",
    "profile_from_mapping",
    "profile_to_mapping",
    "with_overrides",
]

#: ``local_fba``: stock held in the sell market (its local FBA fee);
#: ``efn``: stock held in the home market, shipped through Amazon's European Fulfilment
#: Network (local fee + EFN cross-border fee); ``mfn``: merchant-fulfilled, own shipping cost.
FulfilmentMode = Literal["local_fba", "efn", "mfn"]


class ProfileError(ValueError):
    """An invalid seller profile; :attr:`field` is the dotted path of the offending value."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"profile field {field_path!r}: {message}")
        self.field = field_path


def _non_negative_int(path: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProfileError(path, f"must be an integer, got {value!r}")
    if value < 0:
        raise ProfileError(path, f"must be >= 0, got {value}")
    return value


def _rate(path: str, value: object, *, upper: Decimal = Decimal(1)) -> Decimal:
    """A Decimal fraction in [0, upper); strings and ints are accepted (JSON, CLI)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise ProfileError(path, f'must be a decimal number like "0.15", got {value!r}')
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ProfileError(path, f"not a decimal number: {value!r}") from None
    if not rate.is_finite() or not Decimal(0) <= rate < upper:
        raise ProfileError(path, f"must be >= 0 and < {upper}, got {value}")
    return rate


def _bool(path: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ProfileError(path, f"must be true or false, got {value!r}")
    return value


def _market(path: str, value: object) -> Market:
    if isinstance(value, Market):
        return value
    try:
        return Market.parse(value)  # type: ignore[arg-type]
    except UnknownMarketError:
        raise ProfileError(path, f"unknown market {value!r}, one of {MARKET_CODES}") from None


@dataclass(frozen=True, slots=True)
class SellFulfilment:
    """How orders of one sell market are fulfilled."""

    mode: FulfilmentMode = "local_fba"
    #: ``mfn`` only: the seller's own shipping cost per unit, sell market's minor unit.
    mfn_shipping_minor: int | None = None

    def validate(self, path: str) -> None:
        if self.mode not in get_args(FulfilmentMode):
            raise ProfileError(
                f"{path}.mode", f"must be one of {get_args(FulfilmentMode)}, got {self.mode!r}"
            )
        if self.mode == "mfn":
            if self.mfn_shipping_minor is None:
                raise ProfileError(f"{path}.mfn_shipping_minor", "is required with mode 'mfn'")
            _non_negative_int(f"{path}.mfn_shipping_minor", self.mfn_shipping_minor)
        elif self.mfn_shipping_minor is not None:
            raise ProfileError(f"{path}.mfn_shipping_minor", "only with mode 'mfn'")


@dataclass(frozen=True, slots=True)
class InboundShipping:
    """Moving one unit from the buy market to where it is sold from, EUR cents:
    ``per_unit + per_step x started steps of step_g`` of the unit weight."""

    per_unit_eur_cents: int = 450
    per_step_eur_cents: int = 12  # EUR 1.20 per kg = 12 cents per started 100 g
    step_g: int = 100
    #: Weight assumed when neither quote knows it (conservative: 2 kg).
    unknown_weight_g: int = 2_000

    def validate(self, path: str) -> None:
        for f in fields(self):
            _non_negative_int(f"{path}.{f.name}", getattr(self, f.name))
        if self.step_g == 0:
            raise ProfileError(f"{path}.step_g", "must be > 0")

    def cost_eur_cents(self, weight_g: int) -> int:
        """500 g with the defaults: 450 + 5 x 12 = 510; 501 g: 450 + 6 x 12 = 522."""
        steps = -(-weight_g // self.step_g)  # ceiling division: started steps
        return self.per_unit_eur_cents + steps * self.per_step_eur_cents


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What makes a route an opportunity; compared on exact values."""

    min_profit_eur_cents: int = 500
    min_roi: Decimal = Decimal("0.15")
    max_sales_rank: int | None = None

    def validate(self, path: str) -> None:
        if isinstance(self.min_profit_eur_cents, bool) or not isinstance(
            self.min_profit_eur_cents, int
        ):
            raise ProfileError(f"{path}.min_profit_eur_cents", "must be an integer")
        object.__setattr__(
            self, "min_roi", _rate(f"{path}.min_roi", self.min_roi, upper=Decimal(100))
        )
        if self.max_sales_rank is not None:
            rank = _non_negative_int(f"{path}.max_sales_rank", self.max_sales_rank)
            if rank == 0:
                raise ProfileError(f"{path}.max_sales_rank", "must be >= 1 (or absent)")


def _all_local() -> Mapping[Market, SellFulfilment]:
    return MappingProxyType({m: SellFulfilment() for m in Market})


@dataclass(frozen=True, slots=True)
class SellerProfile:
    """The seller's situation (see the module doc for the default)."""

    #: Country of establishment, ISO 3166 alpha-2 (decides the Digital Services Fee).
    established_in: str = "DE"
    #: Where the seller's own stock is held (the origin of EFN orders); its currency is the
    #: seller's home currency (the currency conversion fee applies to the other one).
    home_market: Market = Market.DE
    vat_registered_in: frozenset[Market] = frozenset(Market)
    #: Whether purchase VAT is recovered (needs a VAT invoice, see below).
    input_vat_recoverable: bool = True
    #: Whether third-party offers are assumed to come with a VAT invoice (Amazon's always do).
    third_party_vat_invoice: bool = True
    fulfilment: Mapping[Market, SellFulfilment] = field(default_factory=_all_local, hash=False)
    inbound_shipping: InboundShipping = InboundShipping()
    #: Per route key (``"DE:FR"``), replaces :attr:`inbound_shipping` on that route.
    inbound_shipping_by_route: Mapping[str, InboundShipping] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    #: Customs brokerage per unit on routes to or from GB.
    gb_customs_eur_cents: int = 500
    #: Import duty on the net purchase price on routes crossing the UK-EU border.
    import_duty_rate: Decimal = Decimal(0)
    prep_eur_cents: int = 0
    #: Currency conversion fee on amounts not in the home currency (payout, purchase).
    fx_fee_rate: Decimal = Decimal(0)
    #: Returns allowance, fraction of the gross sell price; by fee category key, else default.
    returns_allowance_rate: Decimal = Decimal(0)
    returns_allowance_by_category: Mapping[str, Decimal] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    #: Months a unit is expected to sit in Amazon's warehouse before it sells: the ``storage``
    #: line of :func:`app.domain.fees.price_route` (0: no storage line).
    storage_months: int = 1
    thresholds: Thresholds = Thresholds()

    def __post_init__(self) -> None:
        code = self.established_in
        if not isinstance(code, str) or len(code.strip()) != 2 or not code.strip().isalpha():
            raise ProfileError("established_in", f"must be a two-letter country code, got {code!r}")
        object.__setattr__(self, "established_in", "GB" if code.upper() == "UK" else code.upper())
        object.__setattr__(self, "home_market", _market("home_market", self.home_market))
        if isinstance(self.vat_registered_in, str) or not isinstance(
            self.vat_registered_in, frozenset | set | list | tuple
        ):
            raise ProfileError("vat_registered_in", "must be a list of market codes")
        object.__setattr__(
            self,
            "vat_registered_in",
            frozenset(_market("vat_registered_in", m) for m in self.vat_registered_in),
        )
        _bool("input_vat_recoverable", self.input_vat_recoverable)
        _bool("third_party_vat_invoice", self.third_party_vat_invoice)
        self._validate_fulfilment()
        if not isinstance(self.inbound_shipping, InboundShipping):
            raise ProfileError("inbound_shipping", "must be an InboundShipping")
        self.inbound_shipping.validate("inbound_shipping")
        routes: dict[str, InboundShipping] = {}
        for key, shipping in self.inbound_shipping_by_route.items():
            try:
                route = Route.from_key(key)
            except ValueError as exc:
                raise ProfileError(f"inbound_shipping_by_route.{key}", str(exc)) from None
            shipping.validate(f"inbound_shipping_by_route.{key}")
            routes[route.key] = shipping
        object.__setattr__(self, "inbound_shipping_by_route", MappingProxyType(routes))
        for name in ("gb_customs_eur_cents", "prep_eur_cents", "storage_months"):
            _non_negative_int(name, getattr(self, name))
        for name in ("import_duty_rate", "fx_fee_rate", "returns_allowance_rate"):
            object.__setattr__(self, name, _rate(name, getattr(self, name)))
        by_category = {
            str(key): _rate(f"returns_allowance_by_category.{key}", value)
            for key, value in self.returns_allowance_by_category.items()
        }
        object.__setattr__(self, "returns_allowance_by_category", MappingProxyType(by_category))
        if not isinstance(self.thresholds, Thresholds):
            raise ProfileError("thresholds", "must be a Thresholds")
        self.thresholds.validate("thresholds")

    def _validate_fulfilment(self) -> None:
        resolved: dict[Market, SellFulfilment] = {}
        for key, value in self.fulfilment.items():
            market = _market(f"fulfilment.{key}", key)
            if not isinstance(value, SellFulfilment):
                raise ProfileError(f"fulfilment.{market.value}", "must be a SellFulfilment")
            value.validate(f"fulfilment.{market.value}")
            if value.mode == "efn" and market is self.home_market:
                raise ProfileError(
                    f"fulfilment.{market.value}.mode",
                    f"'efn' ships from the home market {self.home_market.value} to another "
                    "market; stock held in the home market is 'local_fba'",
                )
            resolved[market] = value
        missing = [m.value for m in Market if m not in resolved]
        if missing:
            raise ProfileError("fulfilment", f"missing for {missing}")
        object.__setattr__(self, "fulfilment", MappingProxyType(resolved))

    def inbound_for(self, route: Route) -> InboundShipping:
        return self.inbound_shipping_by_route.get(route.key, self.inbound_shipping)

    def returns_rate_for(self, category: str) -> Decimal:
        return self.returns_allowance_by_category.get(category, self.returns_allowance_rate)


DEFAULT_PROFILE = SellerProfile()


# --- mapping (JSON-friendly) -----------------------------------------------------------------

_TOP_FIELDS = tuple(f.name for f in fields(SellerProfile))


def _check_keys(path: str, raw: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    if not isinstance(raw, Mapping):
        raise ProfileError(path or "profile", "must be a mapping")
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ProfileError(where, f"unknown field (allowed: {', '.join(allowed)})")


def _sub(cls: type[Any], path: str, raw: Any) -> Any:
    names = tuple(f.name for f in fields(cls))
    _check_keys(path, raw, names)
    return cls(**dict(raw))


def profile_from_mapping(raw: Mapping[str, Any]) -> SellerProfile:
    """Build and validate a profile; missing fields take :data:`DEFAULT_PROFILE`'s values.

    Raises :class:`ProfileError` naming the field (unknown fields included).
    """
    _check_keys("", raw, _TOP_FIELDS)
    values: dict[str, Any] = dict(raw)
    if "fulfilment" in values:
        given = values["fulfilment"]
        if not isinstance(given, Mapping):
            raise ProfileError("fulfilment", "must be a mapping of market -> fulfilment")
        merged: dict[Any, SellFulfilment] = dict(DEFAULT_PROFILE.fulfilment)
        for key, sub in given.items():
            market = _market(f"fulfilment.{key}", key)
            merged[market] = _sub(SellFulfilment, f"fulfilment.{market.value}", sub)
        values["fulfilment"] = merged
    if "inbound_shipping" in values:
        values["inbound_shipping"] = _sub(
            InboundShipping, "inbound_shipping", values["inbound_shipping"]
        )
    if "inbound_shipping_by_route" in values:
        routes = values["inbound_shipping_by_route"]
        if not isinstance(routes, Mapping):
            raise ProfileError("inbound_shipping_by_route", "must be a mapping of route -> ...")
        values["inbound_shipping_by_route"] = {
            key: _sub(InboundShipping, f"inbound_shipping_by_route.{key}", sub)
            for key, sub in routes.items()
        }
    if "thresholds" in values:
        values["thresholds"] = _sub(Thresholds, "thresholds", values["thresholds"])
    for name in ("returns_allowance_by_category",):
        if name in values and not isinstance(values[name], Mapping):
            raise ProfileError(name, "must be a mapping of category -> rate")
    try:
        return replace(DEFAULT_PROFILE, **values)
    except TypeError as exc:  # a wrong-typed value reaching a dataclass constructor
        raise ProfileError("profile", str(exc)) from None


def profile_to_mapping(profile: SellerProfile) -> dict[str, Any]:
    """JSON-friendly mapping: markets as codes, Decimals as strings, sorted lists."""

    def shipping(s: InboundShipping) -> dict[str, Any]:
        return {f.name: getattr(s, f.name) for f in fields(s)}

    return {
        "established_in": profile.established_in,
        "home_market": profile.home_market.value,
        "vat_registered_in": [m.value for m in Market if m in profile.vat_registered_in],
        "input_vat_recoverable": profile.input_vat_recoverable,
        "third_party_vat_invoice": profile.third_party_vat_invoice,
        "fulfilment": {
            m.value: {"mode": f.mode, "mfn_shipping_minor": f.mfn_shipping_minor}
            if f.mode == "mfn"
            else {"mode": f.mode}
            for m, f in profile.fulfilment.items()
        },
        "inbound_shipping": shipping(profile.inbound_shipping),
        "inbound_shipping_by_route": {
            key: shipping(s) for key, s in sorted(profile.inbound_shipping_by_route.items())
        },
        "gb_customs_eur_cents": profile.gb_customs_eur_cents,
        "import_duty_rate": str(profile.import_duty_rate),
        "prep_eur_cents": profile.prep_eur_cents,
        "fx_fee_rate": str(profile.fx_fee_rate),
        "returns_allowance_rate": str(profile.returns_allowance_rate),
        "returns_allowance_by_category": {
            key: str(rate) for key, rate in sorted(profile.returns_allowance_by_category.items())
        },
        "storage_months": profile.storage_months,
        "thresholds": {
            "min_profit_eur_cents": profile.thresholds.min_profit_eur_cents,
            "min_roi": str(profile.thresholds.min_roi),
            "max_sales_rank": profile.thresholds.max_sales_rank,
        },
    }


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
#: Dotted keys whose value may be ``none`` / empty (unset).
_NULLABLE = {"thresholds.max_sales_rank"}
#: Dotted keys holding a list: the value is comma-separated.
_LISTS = {"vat_registered_in"}


def _parse_value(path: str, current: Any, text: str) -> Any:
    """Parse a CLI string by the type of the value it replaces (new keys: int, bool, str)."""
    stripped = text.strip()
    if path in _NULLABLE and stripped.lower() in {"", "none", "null"}:
        return None
    if path in _LISTS:
        return [part.strip() for part in stripped.split(",") if part.strip()]
    words = (_TRUE | _FALSE) - {"0", "1"}  # a new key holding "1" is a number
    if isinstance(current, bool) or (current is None and stripped.lower() in words):
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise ProfileError(path, f"must be true or false, got {text!r}")
    if isinstance(current, int) or (current is None and stripped.lstrip("-").isdigit()):
        try:
            return int(stripped)
        except ValueError:
            raise ProfileError(path, f"must be an integer, got {text!r}") from None
    return stripped


def with_overrides(profile: SellerProfile, overrides: Mapping[str, str]) -> SellerProfile:
    """``profile`` with ``{"thresholds.min_roi": "0.2", "fulfilment.FR.mode": "efn"}`` applied.

    Each key is a dotted path into :func:`profile_to_mapping`'s shape (a route key such as
    ``DE:FR`` is one segment); values are strings parsed by the type of the value they
    replace. The result is validated as a whole: raises :class:`ProfileError`.
    """
    data = profile_to_mapping(profile)
    for dotted, text in overrides.items():
        parts = dotted.split(".")
        if not all(parts):
            raise ProfileError(dotted, "empty segment in the key")
        if parts[0] not in _TOP_FIELDS:
            raise ProfileError(dotted, f"unknown field (allowed: {', '.join(_TOP_FIELDS)})")
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                if not isinstance(node, dict):
                    raise ProfileError(".".join(parts[: i + 1]), "is not a mapping")
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ProfileError(".".join(parts[: i + 1]), "is not a mapping")
            node = child
        last = parts[-1]
        if not isinstance(node, dict):
            raise ProfileError(dotted, "is not a mapping")
        node[last] = _parse_value(dotted, node.get(last), text)
        if parts[0] == "fulfilment" and last == "mode" and node[last] != "mfn":
            node.pop("mfn_shipping_minor", None)  # only meaningful with mode 'mfn'
    return profile_from_mapping(data)
