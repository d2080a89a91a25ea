"""The seller profile: defaults, validation naming the field, mapping round trip, overrides."""

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from app.domain.markets import Market, Route
from app.domain.profile import (
    DEFAULT_PROFILE,
    InboundShipping,
    ProfileError,
    SellerProfile,
    SellFulfilment,
    Thresholds,
    profile_from_mapping,
    profile_to_mapping,
    with_overrides,
)


def test_default_profile_is_the_documented_one() -> None:
    p = DEFAULT_PROFILE
    assert (p.established_in, p.home_market) == ("DE", Market.DE)
    assert p.vat_registered_in == frozenset(Market)
    assert all(f.mode == "local_fba" for f in p.fulfilment.values())
    assert set(p.fulfilment) == set(Market)
    assert p.input_vat_recoverable
    assert p.third_party_vat_invoice
    assert p.import_duty_rate == 0
    # The former global policy's thresholds and shipping figures carry over unchanged.
    assert p.thresholds.min_profit_eur_cents == 500
    assert p.thresholds.min_roi == Decimal("0.15")
    assert p.inbound_shipping.per_unit_eur_cents == 450
    assert p.inbound_shipping.per_step_eur_cents * 10 == 120  # EUR 1.20 per kg
    assert p.inbound_shipping.unknown_weight_g == 2_000
    assert p.gb_customs_eur_cents == 500


@pytest.mark.parametrize(
    ("weight_g", "cost"),
    [(500, 510), (501, 522), (1, 462), (100, 462), (0, 450)],  # 450 + started 100 g x 12
)
def test_inbound_shipping_per_started_step(weight_g: int, cost: int) -> None:
    assert InboundShipping().cost_eur_cents(weight_g) == cost


def test_inbound_shipping_per_route_overrides_the_default() -> None:
    gb = InboundShipping(per_unit_eur_cents=900)
    profile = replace(DEFAULT_PROFILE, inbound_shipping_by_route={"de:gb": gb})
    assert profile.inbound_for(Route(Market.DE, Market.GB)) == gb
    assert profile.inbound_for(Route(Market.DE, Market.FR)) == InboundShipping()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"established_in": "Germany"}, "established_in"),
        ({"home_market": "US"}, "home_market"),
        ({"vat_registered_in": "DE"}, "vat_registered_in"),
        ({"vat_registered_in": ["DE", "NL"]}, "vat_registered_in"),
        ({"input_vat_recoverable": "yes"}, "input_vat_recoverable"),
        ({"gb_customs_eur_cents": -1}, "gb_customs_eur_cents"),
        ({"prep_eur_cents": 1.5}, "prep_eur_cents"),
        ({"fx_fee_rate": "1.5"}, "fx_fee_rate"),
        ({"import_duty_rate": "abc"}, "import_duty_rate"),
        (
            {"returns_allowance_by_category": {"books": "-0.1"}},
            "returns_allowance_by_category.books",
        ),
        ({"thresholds": Thresholds(min_roi=Decimal("-1"))}, "thresholds.min_roi"),
        ({"thresholds": Thresholds(max_sales_rank=0)}, "thresholds.max_sales_rank"),
        ({"inbound_shipping": InboundShipping(step_g=0)}, "inbound_shipping.step_g"),
        (
            {"inbound_shipping_by_route": {"DE:DE": InboundShipping()}},
            "inbound_shipping_by_route.DE:DE",
        ),
    ],
)
def test_invalid_values_name_their_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ProfileError) as info:
        replace(DEFAULT_PROFILE, **changes)
    assert info.value.field == field
    assert repr(field) in str(info.value)


def test_fulfilment_rules() -> None:
    def with_fr(f: SellFulfilment) -> SellerProfile:
        return replace(DEFAULT_PROFILE, fulfilment={**DEFAULT_PROFILE.fulfilment, Market.FR: f})

    with pytest.raises(ProfileError) as info:
        with_fr(SellFulfilment("mfn"))
    assert info.value.field == "fulfilment.FR.mfn_shipping_minor"
    with pytest.raises(ProfileError) as info:
        with_fr(SellFulfilment("local_fba", 300))
    assert info.value.field == "fulfilment.FR.mfn_shipping_minor"
    with pytest.raises(ProfileError) as info:
        with_fr(SellFulfilment("drone"))  # type: ignore[arg-type]
    assert info.value.field == "fulfilment.FR.mode"
    with pytest.raises(ProfileError) as info:  # EFN from the home market to itself
        replace(
            DEFAULT_PROFILE,
            fulfilment={**DEFAULT_PROFILE.fulfilment, Market.DE: SellFulfilment("efn")},
        )
    assert info.value.field == "fulfilment.DE.mode"
    with pytest.raises(ProfileError) as info:
        replace(DEFAULT_PROFILE, fulfilment={Market.DE: SellFulfilment()})
    assert info.value.field == "fulfilment"
    assert with_fr(SellFulfilment("mfn", 490)).fulfilment[Market.FR].mfn_shipping_minor == 490


def test_mapping_round_trip_is_json_friendly() -> None:
    profile = with_overrides(
        DEFAULT_PROFILE,
        {
            "fulfilment.FR.mode": "mfn",
            "fulfilment.FR.mfn_shipping_minor": "490",
            "inbound_shipping_by_route.DE:GB.per_unit_eur_cents": "900",
            "returns_allowance_by_category.books": "0.03",
            "thresholds.max_sales_rank": "50000",
        },
    )
    mapping = profile_to_mapping(profile)
    assert json.loads(json.dumps(mapping)) == mapping
    assert profile_from_mapping(mapping) == profile
    assert profile_from_mapping(profile_to_mapping(DEFAULT_PROFILE)) == DEFAULT_PROFILE
    assert mapping["thresholds"] == {
        "min_profit_eur_cents": 500,
        "min_roi": "0.15",
        "max_sales_rank": 50000,
    }
    assert mapping["inbound_shipping_by_route"]["DE:GB"]["per_unit_eur_cents"] == 900


def test_from_mapping_fills_defaults_and_refuses_unknown_fields() -> None:
    assert profile_from_mapping({}) == DEFAULT_PROFILE
    partial = profile_from_mapping({"fulfilment": {"it": {"mode": "efn"}}})
    assert partial.fulfilment[Market.IT].mode == "efn"
    assert partial.fulfilment[Market.FR].mode == "local_fba"
    for raw, field in (
        ({"colour": "red"}, "colour"),
        ({"thresholds": {"min_roii": "0.2"}}, "thresholds.min_roii"),
        ({"fulfilment": {"FR": {"mode": "efn", "speed": 1}}}, "fulfilment.FR.speed"),
        ({"fulfilment": {"NL": {"mode": "efn"}}}, "fulfilment.NL"),
    ):
        with pytest.raises(ProfileError) as info:
            profile_from_mapping(raw)
        assert info.value.field == field


def test_with_overrides_parses_by_the_type_it_replaces() -> None:
    profile = with_overrides(
        DEFAULT_PROFILE,
        {
            "thresholds.min_roi": "0.2",
            "thresholds.min_profit_eur_cents": "700",
            "input_vat_recoverable": "no",
            "vat_registered_in": "DE, FR",
            "established_in": "uk",
            "home_market": "GB",
        },
    )
    assert profile.thresholds.min_roi == Decimal("0.2")
    assert profile.thresholds.min_profit_eur_cents == 700
    assert profile.input_vat_recoverable is False
    assert profile.vat_registered_in == {Market.DE, Market.FR}
    assert (profile.established_in, profile.home_market) == ("GB", Market.GB)
    # Unset an optional threshold; switch a market back from mfn (its cost is dropped).
    ranked = with_overrides(DEFAULT_PROFILE, {"thresholds.max_sales_rank": "100"})
    assert with_overrides(ranked, {"thresholds.max_sales_rank": "none"}) == DEFAULT_PROFILE
    mfn = with_overrides(
        DEFAULT_PROFILE, {"fulfilment.FR.mode": "mfn", "fulfilment.FR.mfn_shipping_minor": "1"}
    )
    assert with_overrides(mfn, {"fulfilment.FR.mode": "local_fba"}) == DEFAULT_PROFILE


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("thresholds.min_profit_eur_cents", "lots", "thresholds.min_profit_eur_cents"),
        ("input_vat_recoverable", "maybe", "input_vat_recoverable"),
        ("thresholds.min_roi", "15%", "thresholds.min_roi"),
        ("nope", "1", "nope"),
        ("thresholds..min_roi", "1", "thresholds..min_roi"),
        ("established_in.x", "1", "established_in"),
    ],
)
def test_bad_overrides_are_refused_naming_the_field(key: str, value: str, field: str) -> None:
    with pytest.raises(ProfileError) as info:
        with_overrides(DEFAULT_PROFILE, {key: value})
    assert info.value.field == field


def test_profiles_are_immutable_and_comparable() -> None:
    a = profile_from_mapping(profile_to_mapping(DEFAULT_PROFILE))
    assert a == DEFAULT_PROFILE
    assert a is not DEFAULT_PROFILE
    with pytest.raises(AttributeError):
        a.established_in = "FR"  # type: ignore[misc]
    with pytest.raises(TypeError):
        a.fulfilment[Market.FR] = SellFulfilment("efn")  # type: ignore[index]
    assert isinstance(DEFAULT_PROFILE, SellerProfile)
