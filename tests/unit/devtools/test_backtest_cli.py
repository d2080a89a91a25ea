"""``arbitrage backtest``: its input is checked before anything is started, and it says
clearly when the local stack is not up."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import devtools.backtest
import devtools.cli
from app.cli import cli
from app.domain.profile import DEFAULT_PROFILE
from app.settings import Settings
from devtools.backtest import BacktestInputError, backtest_profile
from devtools.sample.generator import generate_sample, write_jsonl

runner = CliRunner()


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings whose stack dir holds no stack: nothing is running there."""
    monkeypatch.setattr(devtools.cli, "get_settings", lambda: Settings(stack_dir=tmp_path / "s"))


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.jsonl"
    path.write_text("")
    return path


def test_min_profit_and_min_roi_override_the_profile_thresholds(tmp_path: Path) -> None:
    assert backtest_profile(None, None, None) == DEFAULT_PROFILE
    profile = backtest_profile(None, "7.50", "0.2")
    assert profile.thresholds.min_profit_eur_cents == 750
    assert profile.thresholds.min_roi == Decimal("0.2")
    # From a file, with the option winning over the file's threshold.
    path = tmp_path / "profile.json"
    path.write_text('{"thresholds": {"min_profit_eur_cents": 100, "min_roi": "0.3"}}')
    from_file = backtest_profile(path, "2", None)
    assert from_file.thresholds.min_profit_eur_cents == 200
    assert from_file.thresholds.min_roi == Decimal("0.3")


@pytest.mark.parametrize(
    ("min_profit", "min_roi", "says"),
    [
        ("7.505", None, "--min-profit: '7.505' has more than two decimals"),
        ("seven", None, "--min-profit: not an amount of euros"),
        ("1e3", None, "--min-profit: not an amount of euros"),
        (None, "-0.5", "--min-roi: profile field 'thresholds.min_roi'"),
        (None, "lots", "--min-roi: profile field 'thresholds.min_roi'"),
    ],
)
def test_bad_thresholds_are_refused(min_profit: str | None, min_roi: str | None, says: str) -> None:
    with pytest.raises(BacktestInputError) as refused:
        backtest_profile(None, min_profit, min_roi)
    assert str(refused.value).startswith(says)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--min-profit", "7.505"], "error: --min-profit: '7.505' has more than two decimals"),
        (["--min-roi", "2000"], "error: --min-roi: profile field 'thresholds.min_roi'"),
        (["--profile", "{missing}"], "cannot read"),
        (["--profile", "{bad}"], "not valid JSON"),
    ],
)
def test_bad_input_exits_2_before_the_stack_is_looked_at(
    args: list[str], says: str, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_stack_check(_settings: Settings) -> None:
        raise AssertionError("the stack was checked before the input")

    monkeypatch.setattr(devtools.backtest, "check_stack", no_stack_check)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    args = [a.format(missing=tmp_path / "none.json", bad=bad) for a in args]
    result = runner.invoke(cli, ["backtest", str(sample), *args])
    assert result.exit_code == 2, result.output
    assert says in result.output


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["backtest", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 2
    assert "none.jsonl: no such file" in result.output


@pytest.mark.usefixtures("no_stack")
def test_without_the_local_stack_it_fails_clearly(sample: Path) -> None:
    result = runner.invoke(cli, ["backtest", str(sample), "--min-profit", "5"])
    assert result.exit_code == 1
    assert "the backtest runs the real topology on the local stack, which is not ready" in (
        result.output
    )
    assert "kafka" in result.output
    assert "`arbitrage stack up`" in result.output


def test_help_says_it_needs_the_local_stack() -> None:
    result = runner.invoke(cli, ["backtest", "--help"])
    assert result.exit_code == 0
    assert "Needs the local stack" in result.output
    for option in ("--profile", "--min-profit", "--min-roi", "--html", "--json", "--keep"):
        assert option in result.output


def test_a_failed_run_is_an_error_and_still_cleaned_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "one.jsonl"
    write_jsonl(
        generate_sample(1, seed=1, start=datetime(2026, 1, 1, tzinfo=UTC), steps=1, step_minutes=1),
        path,
    )
    cleaned: list[tuple[str, Path]] = []

    def fail_to_start(self: devtools.backtest.WorkerProcess, timeout_s: float = 90) -> None:
        raise RuntimeError("worker exited: boom")

    monkeypatch.setattr(devtools.backtest.WorkerProcess, "start", fail_to_start)
    monkeypatch.setattr(
        devtools.backtest, "_clean_up", lambda s, workdir: cleaned.append((s.topic_prefix, workdir))
    )
    settings = Settings(stack_dir=tmp_path / "stack")
    with pytest.raises(devtools.backtest.BacktestError, match="worker exited: boom"):
        devtools.backtest.run_backtest(settings, path, DEFAULT_PROFILE, name="backtestunit")
    assert cleaned == [("backtestunit.", tmp_path / "stack" / "backtest" / "backtestunit")]
    # With --keep nothing is deleted, failed or not.
    cleaned.clear()
    with pytest.raises(devtools.backtest.BacktestError):
        devtools.backtest.run_backtest(settings, path, DEFAULT_PROFILE, keep=True)
    assert cleaned == []


def test_a_file_without_an_envelope_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n{not json\n")
    with pytest.raises(BacktestInputError, match="no envelope with a usable event time"):
        devtools.backtest.run_backtest(Settings(stack_dir=tmp_path), path, DEFAULT_PROFILE)
