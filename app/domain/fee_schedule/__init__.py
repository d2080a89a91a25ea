"""The Amazon EU fee schedule as versioned data: ``schedule.toml`` in this package.

Every figure of the data file carries its ``source`` and ``effective_from`` (and
``effective_to`` once it ended); :func:`parse_fee_schedule` validates the file into the typed,
immutable structures below and the ``*_on`` / ``*_for`` methods of :class:`FeeSchedule` pick
the entry in force on a given date (the observation's date, passed in: there is no clock
here). Changing a fee is a data change: add an entry with its new ``effective_from`` and close
the old one with ``effective_to``.

:func:`default_fee_schedule` loads the file shipped inside the package (it is package data,
read once through :mod:`importlib.resources`, like importing a module).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache, wraps
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal, TypeVar, cast, get_args

from app.domain.markets import Market, UnknownMarketError

__all__ = [
    "DEFAULT_CATEGORY",
    "SCHEMA_VERSION",
    "STANDARD_VAT",
    "Category",
    "DsfRule",
    "EfnFee",
    "FbaCard",
    "FbaLowPrice",
    "FbaSize",
    "FbaTier",
    "FeeSchedule",
    "FeeScheduleError",
    "FeeScheduleGapError",
    "FeeVatRule",
    "ReferralRule",
    "ReferralTier",
    "Sourced",
    "StorageRate",
    "StorageSeason",
    "StorageSize",
    "StorageUnit",
    "TierMode",
    "VatRate",
    "default_fee_schedule",
    "parse_fee_schedule",
]

SCHEMA_VERSION = 1
DEFAULT_CATEGORY = "default"
#: VAT category of goods without a reduced rate.
STANDARD_VAT = "standard"

TierMode = Literal["whole", "portion"]
FbaSize = Literal["envelope", "small_parcel", "standard_parcel"]
DsfBase = Literal["selling", "fba"]
StorageUnit = Literal["m3", "ft3"]
StorageSize = Literal["standard", "oversize"]
StorageSeason = Literal["jan_sep", "oct_dec"]

#: Cubic millimetres in one unit of storage volume (1 ft = 304.8 mm exactly).
STORAGE_UNIT_MM3: Mapping[str, Decimal] = MappingProxyType(
    {"m3": Decimal(1_000_000_000), "ft3": Decimal("304.8") ** 3}
)


class FeeScheduleError(ValueError):
    """The fee schedule data is invalid; the message names the entry and the field."""


class FeeScheduleGapError(LookupError):
    """No figure of the schedule is in force for what was asked on that date."""


@dataclass(frozen=True, slots=True)
class Sourced:
    """Where a figure comes from and when it applies (both ends inclusive)."""

    source: str
    effective_from: date
    effective_to: date | None
    verified: bool

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    @property
    def period(self) -> str:
        """``"2024-10-01 .. 2026-03-19"`` or ``"from 2024-10-01"``."""
        if self.effective_to is None:
            return f"from {self.effective_from.isoformat()}"
        return f"{self.effective_from.isoformat()} .. {self.effective_to.isoformat()}"


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    name: str
    media: bool
    keepa_roots: Mapping[Market, frozenset[int]] = field(hash=False)
    source: str


@dataclass(frozen=True, slots=True)
class ReferralTier:
    """A price band: ``up_to_minor`` inclusive (None = no upper bound)."""

    up_to_minor: int | None
    rate: Decimal


@dataclass(frozen=True, slots=True)
class ReferralRule:
    category: str
    markets: frozenset[Market]
    tier_mode: TierMode
    tiers: tuple[ReferralTier, ...]  # a flat rate is one unbounded tier
    minimum_minor: int | None
    closing_fee_minor: int
    sourced: Sourced


@dataclass(frozen=True, slots=True)
class DsfRule:
    """Digital Services Fee: ``rate`` x the fees in ``applies_to``, for sellers established in
    ``established_in`` (or anywhere except ``established_outside``) selling on
    ``sell_markets``."""

    established_in: frozenset[str] | None
    established_outside: frozenset[str] | None
    sell_markets: frozenset[Market]
    rate: Decimal
    applies_to: frozenset[DsfBase]
    sourced: Sourced

    def matches(self, established_in: str, sell_market: Market) -> bool:
        if sell_market not in self.sell_markets:
            return False
        if self.established_in is not None:
            return established_in in self.established_in
        assert self.established_outside is not None
        return established_in not in self.established_outside


@dataclass(frozen=True, slots=True)
class VatRate:
    market: Market
    category: str  # STANDARD_VAT or a category key with a reduced rate
    rate: Decimal
    sourced: Sourced


@dataclass(frozen=True, slots=True)
class FeeVatRule:
    """VAT on Amazon's fees: the charging market's standard rate (``rate_source``)."""

    rate_source: Literal["standard"]
    sourced: Sourced


@dataclass(frozen=True, slots=True)
class FbaTier:
    """A size/weight band; ``max_dims_mm`` sorted longest side first. ``source`` says which
    of its limits are Amazon's and which are the approximation's."""

    name: str
    size: FbaSize
    max_weight_g: int
    max_dims_mm: tuple[int, int, int]
    source: str

    def fits(self, weight_g: int, dims_mm: tuple[int, int, int]) -> bool:
        if weight_g > self.max_weight_g:
            return False
        longest, median, shortest = sorted(dims_mm, reverse=True)
        max_l, max_m, max_s = self.max_dims_mm
        return longest <= max_l and median <= max_m and shortest <= max_s


@dataclass(frozen=True, slots=True)
class FbaCard:
    """One market's fee per tier (minor units of its currency), in tier order."""

    market: Market
    fees_minor: tuple[int, ...]
    sourced: Sourced


@dataclass(frozen=True, slots=True)
class FbaLowPrice:
    """Low-Price FBA eligibility: the price ceiling (VAT included) and, for each size class
    that qualifies, the heaviest unit that does (a size class not listed never qualifies)."""

    markets: frozenset[Market]
    max_price_minor: int
    max_weight_g: Mapping[FbaSize, int] = field(hash=False)
    sourced: Sourced

    def covers(self, size: FbaSize, weight_g: int) -> bool:
        """Whether a unit of that size class and weight is within the limits (not the price)."""
        limit = self.max_weight_g.get(size)
        return limit is not None and weight_g <= limit


@dataclass(frozen=True, slots=True)
class EfnFee:
    """European Fulfilment Network surcharge per unit, in the sell market's minor units."""

    from_markets: frozenset[Market]
    sell_markets: frozenset[Market]
    surcharge_minor: int
    sourced: Sourced


@dataclass(frozen=True, slots=True)
class StorageRate:
    """Monthly inventory storage fee per unit of volume (``unit``: cubic metre or cubic foot),
    in the charging market's minor units, by size class and season (January-September,
    October-December)."""

    markets: frozenset[Market]
    unit: StorageUnit
    standard_jan_sep_minor: int
    standard_oct_dec_minor: int
    oversize_jan_sep_minor: int
    oversize_oct_dec_minor: int
    sourced: Sourced

    @staticmethod
    def season(on: date) -> StorageSeason:
        return "oct_dec" if on.month >= 10 else "jan_sep"

    def rate_minor(self, size: StorageSize, on: date) -> int:
        """The monthly rate per ``unit`` for that size class in the season of ``on``."""
        peak = self.season(on) == "oct_dec"
        if size == "oversize":
            return self.oversize_oct_dec_minor if peak else self.oversize_jan_sep_minor
        return self.standard_oct_dec_minor if peak else self.standard_jan_sep_minor


_T = TypeVar("_T")


def _in_force(entries: Iterable[_T], on: date, sourced: Callable[[_T], Sourced]) -> list[_T]:
    return [entry for entry in entries if sourced(entry).in_force(on)]


def _one_or_none(found: Sequence[_T], what: str) -> _T | None:
    if len(found) > 1:  # excluded by the validation of overlaps; kept as a guard
        raise FeeScheduleError(f"{len(found)} entries in force for {what}")
    return found[0] if found else None


_Lookup = TypeVar("_Lookup", bound=Callable[..., Any])


def _memoised(lookup: _Lookup) -> _Lookup:
    """Remember a look-up's answer per arguments (positional, hashable), in the schedule's
    ``_memo``: the schedule never changes, so neither does an answer. A detector event prices
    up to 20 routes with the same few look-ups (VAT rate per market and category, referral
    rule, ...); scanning the entries each time was most of the pricing cost. What a look-up
    raises (a :class:`FeeScheduleGapError`) is not remembered. The memo grows with the
    distinct arguments asked for: markets x categories x days priced."""
    name = lookup.__name__

    @wraps(lookup)
    def remembered(self: FeeSchedule, *args: Any) -> Any:
        key = (name, *args)
        try:
            return self._memo[key]
        except KeyError:
            answer = self._memo[key] = lookup(self, *args)
            return answer

    return cast(_Lookup, remembered)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """The validated schedule. Look-ups take the date the figures must be in force on (their
    answers are remembered: :func:`_memoised`)."""

    categories: tuple[Category, ...]
    referral: tuple[ReferralRule, ...]
    dsf: tuple[DsfRule, ...]
    vat: tuple[VatRate, ...]
    fee_vat: FeeVatRule
    fba_tiers: tuple[FbaTier, ...]
    fba_cards: tuple[FbaCard, ...]
    fba_low_price: tuple[FbaLowPrice, ...]
    efn: tuple[EfnFee, ...]
    storage: tuple[StorageRate, ...] = ()
    _memo: dict[tuple[Any, ...], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @_memoised
    def category(self, key: str) -> Category:
        for category in self.categories:
            if category.key == key:
                return category
        raise FeeScheduleGapError(f"unknown fee category {key!r}")

    @_memoised
    def category_of_root(self, market: Market, root_category: int | None) -> str | None:
        """The category key whose Keepa roots on ``market`` include ``root_category``; None
        when the root is unknown or mapped to no category."""
        if root_category is None:
            return None
        for category in self.categories:
            if root_category in category.keepa_roots.get(market, frozenset()):
                return category.key
        return None

    @_memoised
    def referral_rule(self, category: str, market: Market, on: date) -> ReferralRule | None:
        found = _in_force(
            (r for r in self.referral if r.category == category and market in r.markets),
            on,
            lambda r: r.sourced,
        )
        return _one_or_none(found, f"referral {category}/{market.value} on {on}")

    @_memoised
    def dsf_rule(self, established_in: str, sell_market: Market, on: date) -> DsfRule | None:
        """The Digital Services Fee rule, None when no DSF applies (e.g. before 2024-10-01 or
        a DE-established seller selling on DE)."""
        found = _in_force(
            (r for r in self.dsf if r.matches(established_in, sell_market)),
            on,
            lambda r: r.sourced,
        )
        return _one_or_none(found, f"DSF {established_in}->{sell_market.value} on {on}")

    @_memoised
    def vat_rate(self, market: Market, category: str, on: date) -> VatRate:
        """The reduced rate of ``category`` if the market has one, else its standard rate."""
        for wanted in (category, STANDARD_VAT):
            found = _in_force(
                (v for v in self.vat if v.market is market and v.category == wanted),
                on,
                lambda v: v.sourced,
            )
            rate = _one_or_none(found, f"VAT {market.value}/{wanted} on {on}")
            if rate is not None:
                return rate
        raise FeeScheduleGapError(f"no VAT rate for {market.value} on {on}")

    @_memoised
    def fee_vat_rate(self, market: Market, on: date) -> VatRate:
        """VAT rate on Amazon's fees charged by ``market``."""
        if not self.fee_vat.sourced.in_force(on):
            raise FeeScheduleGapError(f"no rule for VAT on fees on {on}")
        return self.vat_rate(market, STANDARD_VAT, on)

    @_memoised
    def fba_card(self, market: Market, on: date) -> FbaCard:
        found = _in_force(
            (c for c in self.fba_cards if c.market is market), on, lambda c: c.sourced
        )
        card = _one_or_none(found, f"FBA card {market.value} on {on}")
        if card is None:
            raise FeeScheduleGapError(f"no FBA fee card for {market.value} on {on}")
        return card

    @_memoised
    def low_price_rule(self, market: Market, on: date) -> FbaLowPrice | None:
        found = _in_force(
            (r for r in self.fba_low_price if market in r.markets), on, lambda r: r.sourced
        )
        return _one_or_none(found, f"low-price FBA {market.value} on {on}")

    @_memoised
    def efn_fee(self, from_market: Market, sell_market: Market, on: date) -> EfnFee:
        found = _in_force(
            (
                e
                for e in self.efn
                if from_market in e.from_markets and sell_market in e.sell_markets
            ),
            on,
            lambda e: e.sourced,
        )
        fee = _one_or_none(found, f"EFN {from_market.value}->{sell_market.value} on {on}")
        if fee is None:
            raise FeeScheduleGapError(
                f"no EFN fee in the schedule from {from_market.value} to {sell_market.value} "
                f"on {on}: hold stock in {sell_market.value} (local_fba) or fulfil it yourself "
                "(mfn), or add the figure to the fee schedule"
            )
        return fee

    @_memoised
    def storage_rate(self, market: Market, on: date) -> StorageRate:
        """The monthly storage rates of the warehouses of ``market`` in force on ``on``."""
        found = _in_force((r for r in self.storage if market in r.markets), on, lambda r: r.sourced)
        rate = _one_or_none(found, f"storage {market.value} on {on}")
        if rate is None:
            raise FeeScheduleGapError(f"no monthly storage fee for {market.value} on {on}")
        return rate


# --- parsing ---------------------------------------------------------------------------------


class _Entry:
    """Typed access to one table of the data file, errors naming ``where.field``."""

    def __init__(self, raw: Any, where: str, allowed: Iterable[str]) -> None:
        if not isinstance(raw, dict):
            raise FeeScheduleError(f"{where}: must be a table")
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise FeeScheduleError(f"{where}: unknown field(s) {unknown}")
        self.raw: dict[str, Any] = raw
        self.where = where

    def error(self, name: str, message: str) -> FeeScheduleError:
        return FeeScheduleError(f"{self.where}.{name}: {message}")

    def get(self, name: str, kind: type[_T], default: _T | None = None) -> _T:
        if name not in self.raw:
            if default is None:
                raise self.error(name, "is required")
            return default
        value = self.raw[name]
        if kind is int and isinstance(value, bool):
            raise self.error(name, f"must be {kind.__name__}, got {value!r}")
        if not isinstance(value, kind):
            raise self.error(name, f"must be {kind.__name__}, got {value!r}")
        return value

    def opt(self, name: str, kind: type[_T]) -> _T | None:
        return self.get(name, kind) if name in self.raw else None

    def text(self, name: str) -> str:
        value = self.get(name, str)
        if not value.strip():
            raise self.error(name, "must not be empty")
        return value

    def amount(self, name: str, *, required: bool = True) -> int | None:
        value = self.get(name, int) if required else self.opt(name, int)
        if value is not None and value < 0:
            raise self.error(name, f"must be >= 0, got {value}")
        return value

    def rate(self, name: str, raw: Any = None) -> Decimal:
        value = self.get(name, str) if raw is None else raw
        if not isinstance(value, str):
            raise self.error(name, f'must be a decimal string like "0.15", got {value!r}')
        try:
            rate = Decimal(value)
        except InvalidOperation:
            raise self.error(name, f"not a decimal number: {value!r}") from None
        if not rate.is_finite() or not 0 <= rate < 1:
            raise self.error(name, f"must be in [0, 1), got {value}")
        return rate

    def market(self, name: str, raw: Any = None) -> Market:
        value = self.get(name, str) if raw is None else raw
        try:
            return Market.parse(value)
        except UnknownMarketError as exc:
            raise self.error(name, str(exc)) from None

    def markets(self, name: str) -> frozenset[Market]:
        values = self.get(name, list)
        if not values:
            raise self.error(name, "must not be empty")
        return frozenset(self.market(name, v) for v in values)

    def countries(self, name: str) -> frozenset[str] | None:
        values = self.opt(name, list)
        if values is None:
            return None
        if not values or not all(isinstance(v, str) and len(v) == 2 for v in values):
            raise self.error(name, "must be a non-empty list of two-letter country codes")
        return frozenset(v.upper() for v in values)

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.get(name, str, default)
        if value not in options:
            raise self.error(name, f"must be one of {list(options)}, got {value!r}")
        return value

    def sourced(self) -> Sourced:
        effective_from = self.get("effective_from", date)
        effective_to = self.opt("effective_to", date)
        if effective_to is not None and effective_to < effective_from:
            raise self.error("effective_to", "is before effective_from")
        return Sourced(
            source=self.text("source"),
            effective_from=effective_from,
            effective_to=effective_to,
            verified=self.get("verified", bool, True),
        )


_SOURCED = ("source", "effective_from", "effective_to", "verified")


def _tables(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise FeeScheduleError(f"{key}: must be an array of tables ([[{key}]])")
    return value


def _parse_category(raw: Any, where: str) -> Category:
    entry = _Entry(raw, where, ("key", "name", "media", "keepa_roots", "source"))
    roots_raw = entry.get("keepa_roots", dict, {})
    roots: dict[Market, frozenset[int]] = {}
    for code, ids in roots_raw.items():
        market = entry.market("keepa_roots", code)
        if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids
        ):
            raise entry.error(f"keepa_roots.{code}", "must be a list of positive integers")
        roots[market] = frozenset(ids)
    return Category(
        key=entry.text("key"),
        name=entry.text("name"),
        media=entry.get("media", bool, False),
        keepa_roots=MappingProxyType(roots),
        source=entry.text("source"),
    )


def _parse_referral(raw: Any, where: str) -> ReferralRule:
    entry = _Entry(
        raw,
        where,
        (
            "category",
            "markets",
            "rate",
            "tier_mode",
            "tiers",
            "minimum_minor",
            "closing_fee_minor",
            *_SOURCED,
        ),
    )
    if ("rate" in entry.raw) == ("tiers" in entry.raw):
        raise entry.error("rate", "give exactly one of `rate` and `tiers`")
    if "rate" in entry.raw:
        tiers: tuple[ReferralTier, ...] = (ReferralTier(None, entry.rate("rate")),)
        mode = "whole"
        if "tier_mode" in entry.raw:
            raise entry.error("tier_mode", "only with `tiers`")
    else:
        mode = entry.choice("tier_mode", get_args(TierMode))
        tiers = _parse_tiers(entry)
    return ReferralRule(
        category=entry.text("category"),
        markets=entry.markets("markets"),
        tier_mode=mode,  # type: ignore[arg-type]
        tiers=tiers,
        minimum_minor=entry.amount("minimum_minor", required=False),
        closing_fee_minor=entry.amount("closing_fee_minor", required=False) or 0,
        sourced=entry.sourced(),
    )


def _parse_tiers(entry: _Entry) -> tuple[ReferralTier, ...]:
    raw_tiers = entry.get("tiers", list)
    tiers: list[ReferralTier] = []
    for i, raw in enumerate(raw_tiers):
        tier = _Entry(raw, f"{entry.where}.tiers[{i}]", ("up_to_minor", "rate"))
        up_to = tier.amount("up_to_minor", required=False)
        tiers.append(ReferralTier(up_to, tier.rate("rate")))
    if not tiers or tiers[-1].up_to_minor is not None:
        raise entry.error("tiers", "the last tier must have no `up_to_minor` (unbounded)")
    bounds = [t.up_to_minor for t in tiers[:-1]]
    if any(b is None for b in bounds) or bounds != sorted(set(bounds)):  # type: ignore[type-var]
        raise entry.error("tiers", "`up_to_minor` must be given and strictly increasing")
    return tuple(tiers)


def _parse_dsf(raw: Any, where: str) -> DsfRule:
    entry = _Entry(
        raw,
        where,
        ("established_in", "established_outside", "sell_markets", "rate", "applies_to", *_SOURCED),
    )
    inside, outside = entry.countries("established_in"), entry.countries("established_outside")
    if (inside is None) == (outside is None):
        raise entry.error("established_in", "give exactly one of established_in/_outside")
    applies = entry.get("applies_to", list)
    if not applies or any(a not in get_args(DsfBase) for a in applies):
        raise entry.error("applies_to", f"must be a non-empty subset of {list(get_args(DsfBase))}")
    return DsfRule(
        established_in=inside,
        established_outside=outside,
        sell_markets=entry.markets("sell_markets"),
        rate=entry.rate("rate"),
        applies_to=frozenset(applies),
        sourced=entry.sourced(),
    )


def _parse_vat(raw: Any, where: str) -> VatRate:
    entry = _Entry(raw, where, ("market", "category", "rate", *_SOURCED))
    return VatRate(
        market=entry.market("market"),
        category=entry.text("category"),
        rate=entry.rate("rate"),
        sourced=entry.sourced(),
    )


def _parse_fba_tier(raw: Any, where: str) -> FbaTier:
    entry = _Entry(raw, where, ("name", "size", "max_weight_g", "max_dims_mm", "source"))
    dims = entry.get("max_dims_mm", list)
    if len(dims) != 3 or not all(isinstance(d, int) and d > 0 for d in dims):
        raise entry.error("max_dims_mm", "must be three positive integers (mm)")
    if dims != sorted(dims, reverse=True):
        raise entry.error("max_dims_mm", "must be sorted longest side first")
    weight = entry.amount("max_weight_g")
    assert weight is not None
    return FbaTier(
        name=entry.text("name"),
        size=entry.choice("size", get_args(FbaSize)),  # type: ignore[arg-type]
        max_weight_g=weight,
        max_dims_mm=(dims[0], dims[1], dims[2]),
        source=entry.text("source"),
    )


def _parse_fba_card(raw: Any, where: str, tiers: int) -> FbaCard:
    entry = _Entry(raw, where, ("market", "fees_minor", *_SOURCED))
    fees = entry.get("fees_minor", list)
    if len(fees) != tiers or not all(isinstance(f, int) and f > 0 for f in fees):
        raise entry.error("fees_minor", f"must be {tiers} positive integers, one per fba_tier")
    return FbaCard(market=entry.market("market"), fees_minor=tuple(fees), sourced=entry.sourced())


def _parse_low_price(raw: Any, where: str) -> FbaLowPrice:
    entry = _Entry(raw, where, ("markets", "max_price_minor", "max_weight_g", *_SOURCED))
    limits_raw = entry.get("max_weight_g", dict)
    if not limits_raw:
        raise entry.error("max_weight_g", "give the heaviest unit of at least one size class")
    limits: dict[FbaSize, int] = {}
    for size, grams in limits_raw.items():
        if size not in get_args(FbaSize):
            raise entry.error(
                f"max_weight_g.{size}", f"not a size class: one of {list(get_args(FbaSize))}"
            )
        if not isinstance(grams, int) or isinstance(grams, bool) or grams <= 0:
            raise entry.error(
                f"max_weight_g.{size}", f"must be a positive integer (g), got {grams!r}"
            )
        limits[size] = grams
    price = entry.amount("max_price_minor")
    assert price is not None
    return FbaLowPrice(
        markets=entry.markets("markets"),
        max_price_minor=price,
        max_weight_g=MappingProxyType(limits),
        sourced=entry.sourced(),
    )


def _parse_efn(raw: Any, where: str) -> EfnFee:
    entry = _Entry(raw, where, ("from_markets", "sell_markets", "surcharge_minor", *_SOURCED))
    surcharge = entry.amount("surcharge_minor")
    assert surcharge is not None
    return EfnFee(
        from_markets=entry.markets("from_markets"),
        sell_markets=entry.markets("sell_markets"),
        surcharge_minor=surcharge,
        sourced=entry.sourced(),
    )


def _parse_storage(raw: Any, where: str) -> StorageRate:
    fields = (
        "standard_jan_sep_minor",
        "standard_oct_dec_minor",
        "oversize_jan_sep_minor",
        "oversize_oct_dec_minor",
    )
    entry = _Entry(raw, where, ("markets", "unit", *fields, *_SOURCED))
    amounts: list[int] = []
    for name in fields:
        amount = entry.amount(name)
        assert amount is not None
        if amount == 0:
            raise entry.error(name, "must be > 0")
        amounts.append(amount)
    return StorageRate(
        markets=entry.markets("markets"),
        unit=entry.choice("unit", get_args(StorageUnit)),  # type: ignore[arg-type]
        standard_jan_sep_minor=amounts[0],
        standard_oct_dec_minor=amounts[1],
        oversize_jan_sep_minor=amounts[2],
        oversize_oct_dec_minor=amounts[3],
        sourced=entry.sourced(),
    )


def _check_no_overlap(
    entries: Sequence[_T],
    name: str,
    keys: Callable[[_T], Iterable[tuple[object, ...]]],
    sourced: Callable[[_T], Sourced],
) -> None:
    """Two entries with a common key must not be in force on the same day."""
    seen: dict[tuple[object, ...], list[tuple[int, Sourced]]] = {}
    for i, entry in enumerate(entries):
        period = sourced(entry)
        for key in keys(entry):
            for j, other in seen.get(key, []):
                if _overlap(period, other):
                    raise FeeScheduleError(
                        f"{name}[{j}] and {name}[{i}] are both in force on a common day for {key}"
                    )
            seen.setdefault(key, []).append((i, period))


def _overlap(a: Sourced, b: Sourced) -> bool:
    a_end = a.effective_to or date.max
    b_end = b.effective_to or date.max
    return a.effective_from <= b_end and b.effective_from <= a_end


#: Stands for every country no DSF rule names (not an ISO code).
_UNNAMED_COUNTRY = "??"


def _check_dsf(rules: Sequence[DsfRule]) -> None:
    """No two rules may apply to the same seller and store on a common day: checked for every
    country a rule names and for one country no rule names (all of those behave alike)."""
    named = {c for r in rules for c in (*(r.established_in or ()), *(r.established_outside or ()))}
    for country in sorted(named | {_UNNAMED_COUNTRY}):
        for market in Market:
            active = [r for r in rules if r.matches(country, market)]
            for i, a in enumerate(active):
                for b in active[i + 1 :]:
                    if _overlap(a.sourced, b.sourced):
                        who = "any other country" if country == _UNNAMED_COUNTRY else country
                        raise FeeScheduleError(
                            f"two dsf rules in force on a common day for a seller established "
                            f"in {who} selling on {market.value}"
                        )


def parse_fee_schedule(data: Mapping[str, Any]) -> FeeSchedule:
    """Validate the parsed TOML document into a :class:`FeeSchedule`.

    Raises :class:`FeeScheduleError` naming the entry and field of the first problem.
    """
    known = {
        "schema_version", "category", "referral", "dsf", "vat", "fee_vat",
        "fba_tier", "fba_card", "fba_low_price", "efn", "storage",
    }  # fmt: skip
    unknown = sorted(set(data) - known)
    if unknown:
        raise FeeScheduleError(f"unknown top-level key(s) {unknown}")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise FeeScheduleError(
            f"schema_version must be {SCHEMA_VERSION}, got {data.get('schema_version')!r}"
        )
    categories = tuple(
        _parse_category(raw, f"category[{i}]") for i, raw in enumerate(_tables(data, "category"))
    )
    keys = [c.key for c in categories]
    if len(set(keys)) != len(keys) or DEFAULT_CATEGORY not in keys:
        raise FeeScheduleError(f"category keys must be unique and include {DEFAULT_CATEGORY!r}")
    roots = [(m, r) for c in categories for m, ids in c.keepa_roots.items() for r in ids]
    if len(set(roots)) != len(roots):
        raise FeeScheduleError("a Keepa root category is mapped to two categories")

    referral = tuple(
        _parse_referral(raw, f"referral[{i}]") for i, raw in enumerate(_tables(data, "referral"))
    )
    for i, rule in enumerate(referral):
        if rule.category not in keys:
            raise FeeScheduleError(f"referral[{i}].category: unknown category {rule.category!r}")
    _check_no_overlap(
        referral, "referral", lambda r: [(r.category, m) for m in r.markets], lambda r: r.sourced
    )
    for market in Market:
        if not any(r.category == DEFAULT_CATEGORY and market in r.markets for r in referral):
            raise FeeScheduleError(f"no default referral fee for {market.value}")

    dsf = tuple(_parse_dsf(raw, f"dsf[{i}]") for i, raw in enumerate(_tables(data, "dsf")))
    _check_dsf(dsf)

    vat = tuple(_parse_vat(raw, f"vat[{i}]") for i, raw in enumerate(_tables(data, "vat")))
    for i, rate in enumerate(vat):
        if rate.category != STANDARD_VAT and rate.category not in keys:
            raise FeeScheduleError(f"vat[{i}].category: unknown category {rate.category!r}")
    _check_no_overlap(vat, "vat", lambda v: [(v.market, v.category)], lambda v: v.sourced)
    for market in Market:
        if not any(v.market is market and v.category == STANDARD_VAT for v in vat):
            raise FeeScheduleError(f"no standard VAT rate for {market.value}")

    fee_vat_entry = _Entry(data.get("fee_vat"), "fee_vat", ("rate_source", *_SOURCED))
    fee_vat = FeeVatRule(
        rate_source=fee_vat_entry.choice("rate_source", ("standard",)),  # type: ignore[arg-type]
        sourced=fee_vat_entry.sourced(),
    )

    tiers = tuple(
        _parse_fba_tier(raw, f"fba_tier[{i}]") for i, raw in enumerate(_tables(data, "fba_tier"))
    )
    if not tiers or len({t.name for t in tiers}) != len(tiers):
        raise FeeScheduleError("fba_tier: at least one tier, names unique")
    cards = tuple(
        _parse_fba_card(raw, f"fba_card[{i}]", len(tiers))
        for i, raw in enumerate(_tables(data, "fba_card"))
    )
    _check_no_overlap(cards, "fba_card", lambda c: [(c.market,)], lambda c: c.sourced)
    low_price = tuple(
        _parse_low_price(raw, f"fba_low_price[{i}]")
        for i, raw in enumerate(_tables(data, "fba_low_price"))
    )
    _check_no_overlap(
        low_price, "fba_low_price", lambda r: [(m,) for m in r.markets], lambda r: r.sourced
    )
    efn = tuple(_parse_efn(raw, f"efn[{i}]") for i, raw in enumerate(_tables(data, "efn")))
    _check_no_overlap(
        efn,
        "efn",
        lambda e: [(f, s) for f in e.from_markets for s in e.sell_markets],
        lambda e: e.sourced,
    )
    storage = tuple(
        _parse_storage(raw, f"storage[{i}]") for i, raw in enumerate(_tables(data, "storage"))
    )
    _check_no_overlap(storage, "storage", lambda r: [(m,) for m in r.markets], lambda r: r.sourced)
    for i, storage_rate in enumerate(storage):
        for market in storage_rate.markets:
            if (storage_rate.unit == "ft3") != (market is Market.GB):
                raise FeeScheduleError(
                    f"storage[{i}].unit: Amazon charges storage per cubic foot in GB and per "
                    f"cubic metre elsewhere, got {storage_rate.unit!r} for {market.value}"
                )
    return FeeSchedule(
        categories=categories,
        referral=referral,
        dsf=dsf,
        vat=vat,
        fee_vat=fee_vat,
        fba_tiers=tiers,
        fba_cards=cards,
        fba_low_price=low_price,
        efn=efn,
        storage=storage,
    )


#: Name of the data file inside this package.
DATA_FILE = "schedule.toml"


def schedule_text() -> str:
    """The shipped data file's text."""
    return resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8")


@cache
def default_fee_schedule() -> FeeSchedule:
    """The schedule shipped in this package (parsed once)."""
    return parse_fee_schedule(tomllib.loads(schedule_text()))
