"""Run-time knobs of the DAGs (dags/arbitrage_dags/config.py): parsing and validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from arbitrage_dags.config import (
    DEFAULT_TOKEN_BUDGET,
    ConfigError,
    DiscoveryTarget,
    IngestConfig,
    Lookup,
    discovery_targets,
    schedule_from_env,
)
from arbitrage_dags.ingest import planning_time


def _lookup(values: dict[str, str]) -> Lookup:
    return values.get


def test_ingest_defaults() -> None:
    assert IngestConfig.load(_lookup({})) == IngestConfig(DEFAULT_TOKEN_BUDGET, False, 100)


def test_ingest_values() -> None:
    config = IngestConfig.load(
        _lookup({"KEEPA_TOKEN_BUDGET": "1200", "KEEPA_BUYBOX": "yes", "KEEPA_BATCH_SIZE": "50"})
    )
    assert config == IngestConfig(token_budget=1200, buybox=True, batch_size=50)


def test_ingest_config_travels_as_xcom() -> None:
    """configure reads the knobs once; plan and the mapped tasks get them as JSON."""
    config = IngestConfig(token_budget=1200, buybox=True, batch_size=50)
    data = json.loads(json.dumps(config.to_dict()))
    assert IngestConfig.from_dict(data) == config
    with pytest.raises(ConfigError, match="incomplete"):
        IngestConfig.from_dict({"token_budget": 5})
    with pytest.raises(ConfigError, match="KEEPA_BATCH_SIZE must be between 1 and 100"):
        IngestConfig.from_dict({**data, "batch_size": 500})


def test_planning_time_comes_from_the_run_not_the_clock() -> None:
    scheduled = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    triggered = datetime(2026, 3, 2, 9, 17, 31, tzinfo=UTC)
    # A scheduled run: its data interval's end (the cron time), however late it starts.
    assert (
        planning_time(data_interval_end=scheduled, logical_date=scheduled, run_after=triggered)
        == scheduled
    )
    # A manual run with a logical date and no interval; one without either (Airflow 3).
    assert planning_time(data_interval_end=None, logical_date=scheduled, run_after=None) == (
        scheduled
    )
    assert planning_time(data_interval_end=None, logical_date=None, run_after=triggered) == (
        triggered
    )
    berlin = timezone(timedelta(hours=1))
    assert planning_time(
        data_interval_end=datetime(2026, 3, 2, 10, 15, tzinfo=berlin),
        logical_date=None,
        run_after=None,
    ) == scheduled.replace(tzinfo=UTC)
    with pytest.raises(ValueError, match="neither"):
        planning_time(data_interval_end=None, logical_date=None, run_after=None)


def test_planning_time_is_a_plain_datetime() -> None:
    """Airflow's context holds pendulum DateTimes; the planner divides ``now - last fetch``
    by a timedelta, which a pendulum Duration cannot do: planning_time hands a plain one."""
    import pendulum

    scheduled = pendulum.datetime(2026, 3, 2, 9, 15, tz="UTC")
    now = planning_time(data_interval_end=scheduled, logical_date=None, run_after=None)
    assert type(now) is datetime
    assert now == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    last = datetime(2026, 3, 2, 8, 45, tzinfo=UTC)
    assert (now - last + timedelta(minutes=0)) / timedelta(minutes=15) == 2.0
    with pytest.raises(AttributeError):  # what the planner hit with the pendulum value
        _ = (scheduled - last + timedelta(minutes=0)) / timedelta(minutes=15)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"KEEPA_TOKEN_BUDGET": "lots"}, "KEEPA_TOKEN_BUDGET must be an integer"),
        ({"KEEPA_TOKEN_BUDGET": "-1"}, "KEEPA_TOKEN_BUDGET must be >= 0"),
        ({"KEEPA_BATCH_SIZE": "101"}, "KEEPA_BATCH_SIZE must be between 1 and 100"),
        ({"KEEPA_BUYBOX": "maybe"}, "KEEPA_BUYBOX must be true or false"),
    ],
)
def test_ingest_bad_values_name_the_knob(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IngestConfig.load(_lookup(values))


def test_discovery_targets() -> None:
    raw = json.dumps(
        [
            {"market": "de", "category": 3167641},
            {"market": "GB", "category": "11052681", "limit": 50},
            {"market": "DE", "category": 3167641, "limit": 7},  # duplicate pair: first wins
        ]
    )
    targets = discovery_targets(
        _lookup({"KEEPA_DISCOVERY_TARGETS": raw, "KEEPA_DISCOVERY_LIMIT": "20"})
    )
    assert targets == [DiscoveryTarget("DE", 3167641, 20), DiscoveryTarget("GB", 11052681, 50)]
    assert DiscoveryTarget.from_dict(targets[1].to_dict()) == targets[1]
    assert discovery_targets(_lookup({})) == []


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '{"market": "DE", "category": 1}',
        '[{"market": "US", "category": 1}]',
        '[{"market": "DE"}]',
        '[{"market": "DE", "category": 0}]',
        '[{"market": "DE", "category": 1, "limit": 5000}]',
        "[42]",
    ],
)
def test_bad_discovery_targets_are_refused(raw: str) -> None:
    with pytest.raises(ConfigError):
        discovery_targets(_lookup({"KEEPA_DISCOVERY_TARGETS": raw}))


def test_schedule_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FX_RATES_SCHEDULE", raising=False)
    assert schedule_from_env("FX_RATES_SCHEDULE", "@daily") == "@daily"
    monkeypatch.setenv("FX_RATES_SCHEDULE", "0 17 * * 1-5")
    assert schedule_from_env("FX_RATES_SCHEDULE", "@daily") == "0 17 * * 1-5"
