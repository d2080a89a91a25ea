"""The shipped fee schedule (app/domain/fee_schedule/schedule.toml) and its loader."""

import copy
import tomllib
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from app.domain.fee_schedule import (
    FbaSize,
    FeeScheduleError,
    FeeScheduleGapError,
    default_fee_schedule,
    parse_fee_schedule,
    schedule_text,
)
from app.domain.markets import Market

SCHEDULE = default_fee_schedule()
RAW: dict[str, Any] = tomllib.loads(schedule_text())


def test_every_figure_has_a_source_and_an_effective_date() -> None:
    for name in ("referral", "dsf", "vat", "fba_card", "fba_low_price", "efn", "storage"):
        for i, entry in enumerate(RAW[name]):
            assert entry["source"].strip(), f"{name}[{i}]"
            assert isinstance(entry["effective_from"], date), f"{name}[{i}]"
    # Size tiers have no dates (every card shares them) but say where their limits come from.
    for i, tier in enumerate(RAW["fba_tier"]):
        assert tier["source"].strip(), f"fba_tier[{i}]"
    assert RAW["fee_vat"]["source"]
    assert RAW["fee_vat"]["effective_from"]


def test_standard_vat_rates_agree_with_the_markets_module() -> None:
    # Market.vat_rate (used by the sample generator) and the schedule must not drift apart.
    for market in Market:
        assert SCHEDULE.vat_rate(market, "standard", date(2025, 6, 1)).rate == market.vat_rate


@pytest.mark.parametrize(
    ("market", "rate"),
    [
        (Market.DE, Decimal("0.07")),
        (Market.FR, Decimal("0.055")),
        (Market.IT, Decimal("0.04")),
        (Market.ES, Decimal("0.04")),
        (Market.GB, Decimal("0.00")),
    ],
)
def test_book_vat_rates(market: Market, rate: Decimal) -> None:
    assert SCHEDULE.vat_rate(market, "books", date(2025, 6, 1)).rate == rate
    # A category without a reduced rate falls back to the standard rate.
    assert SCHEDULE.vat_rate(market, "furniture", date(2025, 6, 1)).rate == market.vat_rate


def test_books_root_categories_per_market() -> None:
    roots = {Market.DE: 186606, Market.FR: 301061, Market.IT: 411663, Market.ES: 599364}
    roots[Market.GB] = 266239
    for market, root in roots.items():
        assert SCHEDULE.category_of_root(market, root) == "books"
        # Roots are per market: the DE books root means nothing on FR.
    assert SCHEDULE.category_of_root(Market.FR, 186606) is None
    assert SCHEDULE.category_of_root(Market.DE, None) is None


def test_media_has_no_minimum_referral_fee_other_categories_do() -> None:
    on = date(2025, 6, 1)
    for market in Market:
        books = SCHEDULE.referral_rule("books", market, on)
        default = SCHEDULE.referral_rule("default", market, on)
        assert books is not None
        assert default is not None
        assert books.minimum_minor is None
        assert books.closing_fee_minor > 0
        assert default.minimum_minor == (25 if market is Market.GB else 30)


def test_figures_are_chosen_by_date() -> None:
    # FR default referral: 15.45 % (DST inside) until 2024-09-30, 15 % from 2024-10-01.
    before = SCHEDULE.referral_rule("default", Market.FR, date(2024, 9, 30))
    after = SCHEDULE.referral_rule("default", Market.FR, date(2024, 10, 1))
    assert before is not None
    assert after is not None
    assert (before.tiers[0].rate, after.tiers[0].rate) == (Decimal("0.1545"), Decimal("0.15"))
    # DSF, DE-established on the France store: none, 2 %, then 3 % from 2026-03-20.
    assert SCHEDULE.dsf_rule("DE", Market.FR, date(2024, 9, 30)) is None
    rule_2025 = SCHEDULE.dsf_rule("DE", Market.FR, date(2026, 3, 19))
    rule_2026 = SCHEDULE.dsf_rule("DE", Market.FR, date(2026, 3, 20))
    assert rule_2025 is not None
    assert rule_2026 is not None
    assert (rule_2025.rate, rule_2026.rate) == (Decimal("0.02"), Decimal("0.03"))
    assert rule_2026.applies_to == {"selling", "fba"}
    # Any country of establishment not named by a rule behaves like DE.
    assert SCHEDULE.dsf_rule("PL", Market.IT, date(2026, 3, 20)) == SCHEDULE.dsf_rule(
        "DE", Market.IT, date(2026, 3, 20)
    )
    # Established in France: 3 % in every store, also on DE.
    fr = SCHEDULE.dsf_rule("FR", Market.DE, date(2025, 1, 1))
    assert fr is not None
    assert fr.rate == Decimal("0.03")


def test_gaps_are_errors_with_a_reason() -> None:
    with pytest.raises(FeeScheduleGapError, match="no FBA fee card for DE on 2024-12-31"):
        SCHEDULE.fba_card(Market.DE, date(2024, 12, 31))
    with pytest.raises(FeeScheduleGapError, match="from GB to FR"):
        SCHEDULE.efn_fee(Market.GB, Market.FR, date(2025, 6, 1))


def _broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("referral", 0, "rate"), "0.15x", r"referral\[0\]\.rate: not a decimal number"),
        (("referral", 0, "rate"), "1.5", r"referral\[0\]\.rate: must be in \[0, 1\)"),
        (("referral", 0, "markets"), ["XX"], r"referral\[0\]\.markets: unknown"),
        (("referral", 0, "source"), " ", r"referral\[0\]\.source: must not be empty"),
        (("referral", 0, "effective_from"), _DELETE, r"referral\[0\]\.effective_from: is required"),
        (("referral", 0, "colour"), "red", r"referral\[0\]: unknown field\(s\) \['colour'\]"),
        (("referral", 1, "effective_to"), date(2019, 1, 1), r"effective_to: is before"),
        (("dsf", 0, "applies_to"), ["storage"], r"dsf\[0\]\.applies_to"),
        (("vat", 0, "market"), "US", r"vat\[0\]\.market"),
        (("fba_card", 0, "fees_minor"), [1, 2], r"fba_card\[0\]\.fees_minor: must be 10"),
        (("fba_tier", 0, "max_dims_mm"), [23, 330, 25], r"sorted longest side first"),
        (("fba_tier", 0, "source"), _DELETE, r"fba_tier\[0\]\.source: is required"),
        (("fba_low_price", 0, "max_weight_g"), 400, r"fba_low_price\[0\]\.max_weight_g: must be"),
        (("fba_low_price", 0, "max_weight_g"), {}, r"max_weight_g: give the heaviest unit"),
        (
            ("fba_low_price", 0, "max_weight_g"),
            {"parcel": 400},
            r"fba_low_price\[0\]\.max_weight_g\.parcel: not a size class",
        ),
        (
            ("fba_low_price", 0, "max_weight_g"),
            {"envelope": 0},
            r"max_weight_g\.envelope: must be a positive integer",
        ),
        (("schema_version",), 2, r"schema_version must be 1"),
        (("storage", 0, "unit"), "ft3", r"storage\[0\]\.unit: .*per cubic foot in GB"),
        (("storage", 2, "unit"), "m3", r"storage\[2\]\.unit: .*got 'm3' for GB"),
        (("storage", 0, "unit"), "litre", r"storage\[0\]\.unit: must be one of"),
        (("storage", 0, "standard_jan_sep_minor"), 0, r"standard_jan_sep_minor: must be > 0"),
        (("storage", 1, "oversize_oct_dec_minor"), _DELETE, r"oversize_oct_dec_minor: is required"),
    ],
)
def test_invalid_data_is_refused_naming_the_field(
    path: tuple[Any, ...], value: Any, message: str
) -> None:
    with pytest.raises(FeeScheduleError, match=message):
        parse_fee_schedule(_broken(path, value))


def test_overlapping_periods_are_refused() -> None:
    data = copy.deepcopy(RAW)
    duplicate = copy.deepcopy(data["referral"][0])  # DE default from 2019-06-05
    duplicate["effective_from"] = date(2025, 1, 1)
    data["referral"].append(duplicate)
    with pytest.raises(FeeScheduleError, match=r"both in force on a common day"):
        parse_fee_schedule(data)
    dsf = copy.deepcopy(RAW)
    extra = copy.deepcopy(dsf["dsf"][0])  # GB-established, DE/GB stores
    del extra["established_in"]
    extra["established_outside"] = ["FR"]  # also matches GB-established sellers
    dsf["dsf"].append(extra)
    with pytest.raises(FeeScheduleError, match="established in any other country selling on GB"):
        parse_fee_schedule(dsf)


def test_tiers_must_end_unbounded_and_increase() -> None:
    books_gb = next(
        i
        for i, r in enumerate(RAW["referral"])
        if r["category"] == "books" and r["markets"] == ["GB"]
    )
    bad = _broken(("referral", books_gb, "tiers"), [{"up_to_minor": 499, "rate": "0.05"}])
    with pytest.raises(FeeScheduleError, match="last tier must have no"):
        parse_fee_schedule(bad)


def test_storage_rates_by_market_season_and_size() -> None:
    # Seller Central UK 'Inventory storage fees' (schedule.toml): per m3 on DE/IT/ES and FR,
    # per ft3 on GB; January-September / October-December; standard / oversize.
    june, november = date(2025, 6, 30), date(2025, 10, 1)
    de = SCHEDULE.storage_rate(Market.DE, june)
    assert (de.unit, de.rate_minor("standard", june), de.rate_minor("standard", november)) == (
        "m3",
        2782,
        3852,
    )
    assert (de.rate_minor("oversize", june), de.rate_minor("oversize", november)) == (1800, 2500)
    assert SCHEDULE.storage_rate(Market.FR, june).rate_minor("standard", november) == 3968
    gb = SCHEDULE.storage_rate(Market.GB, june)
    assert (gb.unit, gb.rate_minor("standard", june), gb.rate_minor("oversize", november)) == (
        "ft3",
        71,
        64,
    )
    assert not gb.sourced.verified
    with pytest.raises(FeeScheduleGapError, match="no monthly storage fee for ES on 2021-06-07"):
        SCHEDULE.storage_rate(Market.ES, date(2021, 6, 7))


def test_overlapping_storage_periods_are_refused() -> None:
    data = copy.deepcopy(RAW)
    duplicate = copy.deepcopy(data["storage"][1])  # FR from 2021-06-08
    duplicate["markets"] = ["FR", "IT"]
    duplicate["effective_from"] = date(2024, 3, 1)
    data["storage"].append(duplicate)
    # FR or IT first (set order): storage[1] (FR) or storage[0] (DE, IT, ES) with the new one.
    clash = r"storage\[[01]\] and storage\[3\] are both in force"
    with pytest.raises(FeeScheduleError, match=clash):
        parse_fee_schedule(data)


@pytest.mark.parametrize(
    ("size", "weight_g", "covered"),
    [
        # Amazon's Low-Price FBA pages (sell.amazon.co.uk / .es / .it / .de, 2024): every
        # envelope up to 960 g (standard up to 460 g, large and extra-large up to 960 g) and
        # small parcels up to 400 g qualify; standard parcels never do.
        ("envelope", 960, True),
        ("envelope", 961, False),
        ("small_parcel", 400, True),
        ("small_parcel", 401, False),
        ("standard_parcel", 100, False),
    ],
)
def test_low_price_fba_limits_per_size_class(size: FbaSize, weight_g: int, covered: bool) -> None:
    for day in (date(2025, 6, 1), date(2026, 6, 1)):  # the 2024 and the 2026 entries
        for market in Market:
            rule = SCHEDULE.low_price_rule(market, day)
            assert rule is not None
            assert rule.covers(size, weight_g) is covered, (market, day)
