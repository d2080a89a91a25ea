from __future__ import annotations

from decimal import Decimal

import pytest

from app.settings import Settings


def test_every_value_is_overridable_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:29092")
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://search:9201")
    monkeypatch.setenv("FX_GBP_EUR", "1.2")
    monkeypatch.setenv("TOPIC_PARTITIONS", "8")
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "broker:29092"
    assert settings.elasticsearch_url == "http://search:9201"
    assert settings.fx_gbp_eur == Decimal("1.2")
    assert settings.topic_partitions == 8


def test_secrets_do_not_leak_into_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPA_API_KEY", "supersecretkeepakey")
    monkeypatch.setenv("API_TOKEN", "supersecrettoken")
    settings = Settings()
    assert "supersecret" not in repr(settings)
    assert "supersecret" not in str(settings.model_dump())
    assert settings.keepa_api_key is not None
    assert settings.keepa_api_key.get_secret_value() == "supersecretkeepakey"


def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STALE_AFTER_HOURS", "0")
    with pytest.raises(ValueError, match="stale_after_hours"):
        Settings()


def test_prefixes_isolate_names() -> None:
    settings = Settings(topic_prefix="t1-", elasticsearch_index_prefix="i1-")
    assert settings.topic("keepa.products") == "t1-keepa.products"
    assert settings.index("products") == "i1-products"


@pytest.mark.parametrize("name", ["api_host", "faust_web_host", "dashboard_host"])
def test_every_server_listens_on_loopback_by_default(name: str) -> None:
    assert Settings.model_fields[name].default == "127.0.0.1"


def test_stale_after_hours_takes_fractions_and_must_be_positive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import timedelta
    from decimal import Decimal

    from app.policy_config import detection_policy, stale_after

    monkeypatch.setenv("STALE_AFTER_HOURS", "0.01")
    settings = Settings()
    assert settings.stale_after_hours == Decimal("0.01")
    assert stale_after(settings) == timedelta(seconds=36)
    assert detection_policy(settings).stale_after == timedelta(seconds=36)
    assert stale_after(Settings(stale_after_hours=Decimal(24))) == timedelta(hours=24)
    for bad in ("-1", "nan", "inf", "abc"):
        monkeypatch.setenv("STALE_AFTER_HOURS", bad)
        with pytest.raises(ValueError, match="stale_after_hours"):
            Settings()


def test_the_sweep_interval_is_positive_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().sweep_interval_seconds == 10
    monkeypatch.setenv("SWEEP_INTERVAL_SECONDS", "0.5")
    assert Settings().sweep_interval_seconds == 0.5
    monkeypatch.setenv("SWEEP_INTERVAL_SECONDS", "0")
    with pytest.raises(ValueError, match="sweep_interval_seconds"):
        Settings()


def test_the_spike_share_reaches_the_detection_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.domain.policy import DEFAULT_SPIKE_SHARE
    from app.policy_config import detection_policy

    assert Settings().spike_share == DEFAULT_SPIKE_SHARE == Decimal("0.20")
    assert detection_policy(Settings()).spike_share == DEFAULT_SPIKE_SHARE
    monkeypatch.setenv("SPIKE_SHARE", "0.35")
    assert detection_policy(Settings()).spike_share == Decimal("0.35")
    for edge in ("0", "10"):
        monkeypatch.setenv("SPIKE_SHARE", edge)
        assert Settings().spike_share == Decimal(edge)
    for bad in ("-0.01", "10.01", "nan", "inf", "abc"):
        monkeypatch.setenv("SPIKE_SHARE", bad)
        with pytest.raises(ValueError, match="spike_share"):
            Settings()
