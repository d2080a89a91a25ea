"""``arbitrage profile``: parsing KEY=VALUE arguments and profile files, and bad input refused
with the field's path and a non-zero exit before anything reaches Kafka."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.domain.markets import Market
from app.domain.profile import DEFAULT_PROFILE, ProfileError, profile_to_mapping, with_overrides
from app.ingest.profile_cli import (
    EXIT_BAD_INPUT,
    ProfileInputError,
    load_profile_file,
    parse_assignments,
    profile_cli,
)

runner = CliRunner()


def test_assignments_split_on_the_first_equals_sign() -> None:
    assert parse_assignments(
        [
            "thresholds.min_roi=0.2",
            " fulfilment.FR.mode =efn",
            "x.y=a=b",
            "thresholds.max_sales_rank=",
        ]
    ) == {
        "thresholds.min_roi": "0.2",
        "fulfilment.FR.mode": "efn",
        "x.y": "a=b",
        "thresholds.max_sales_rank": "",
    }
    assert parse_assignments(["a=1", "a=2"]) == {"a": "2"}


@pytest.mark.parametrize("pair", ["thresholds.min_roi", "=0.2", " =1"])
def test_an_argument_without_a_key_and_value_is_refused(pair: str) -> None:
    with pytest.raises(ProfileInputError, match="KEY=VALUE"):
        parse_assignments([pair])


def test_set_arguments_then_overrides_give_the_profile() -> None:
    profile = with_overrides(
        DEFAULT_PROFILE,
        parse_assignments(
            ["thresholds.min_roi=0.2", "fulfilment.FR.mode=efn", "vat_registered_in=DE,FR"]
        ),
    )
    assert profile.thresholds.min_roi == Decimal("0.2")
    assert profile.fulfilment[Market.FR].mode == "efn"
    assert profile.vat_registered_in == {Market.DE, Market.FR}


def test_a_json_file_reads_numbers_as_exact_decimals(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"thresholds": {"min_roi": 0.2, "min_profit_eur_cents": 700}}')
    profile = load_profile_file(path)
    assert profile.thresholds.min_roi == Decimal("0.2")
    assert profile.thresholds.min_profit_eur_cents == 700
    assert profile.fulfilment == DEFAULT_PROFILE.fulfilment  # left out: the default


def test_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'home_market = "DE"\nfx_fee_rate = 0.015\n\n[fulfilment.GB]\nmode = "mfn"\n'
        'mfn_shipping_minor = 399\n\n[thresholds]\nmin_roi = "0.18"\n'
    )
    profile = load_profile_file(path)
    assert profile.fx_fee_rate == Decimal("0.015")
    assert profile.fulfilment[Market.GB].mfn_shipping_minor == 399
    assert profile.thresholds.min_roi == Decimal("0.18")


def test_what_show_prints_imports_back(tmp_path: Path) -> None:
    import json

    profile = with_overrides(DEFAULT_PROFILE, {"prep_eur_cents": "35", "fulfilment.IT.mode": "efn"})
    path = tmp_path / "shown.json"
    path.write_text(json.dumps(profile_to_mapping(profile), indent=2))
    assert load_profile_file(path) == profile


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("p.json", "{not json", "not valid JSON"),
        ("p.toml", "min_roi = = 1", "not valid TOML"),
        ("p.json", "[1, 2]", "must hold an object"),
    ],
)
def test_files_that_are_no_profile(tmp_path: Path, name: str, text: str, match: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ProfileInputError, match=match):
        load_profile_file(path)


def test_a_file_with_a_bad_value_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"fulfilment": {"ES": {"mode": "mfn"}}}')
    with pytest.raises(ProfileError) as caught:
        load_profile_file(path)
    assert caught.value.field == "fulfilment.ES.mfn_shipping_minor"


def test_import_of_a_bad_profile_exits_non_zero_with_the_field(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"thresholds": {"min_roi": "1e9"}}')
    result = runner.invoke(profile_cli, ["import", str(path)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "profile field 'thresholds.min_roi'" in result.stderr
    assert "nothing was published" in result.stderr


def test_import_of_a_missing_file_exits_non_zero(tmp_path: Path) -> None:
    result = runner.invoke(profile_cli, ["import", str(tmp_path / "none.json")])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "cannot read" in result.stderr


def test_set_without_key_value_exits_non_zero() -> None:
    result = runner.invoke(profile_cli, ["set", "thresholds.min_roi"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "KEY=VALUE" in result.stderr
