"""fx_rates: the ECB rate published to the real broker (and nothing when the ECB fails)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import requests
import responses
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from arbitrage_dags.fx import FxUnavailableError, fetch_fx_value, publish_fx_value

from app.ingest.fx import ECB_DAILY_URL
from app.settings import Settings
from tests.airflow.airflow_support import read_topic, run_dag

pytestmark = pytest.mark.integration

SAMPLE = (Path(__file__).parent / "data" / "eurofxref-daily.xml").read_bytes()
NOW = datetime(2025, 3, 14, 16, 30, tzinfo=UTC)
VALUE = {
    "schema_version": 1,
    "currency": "GBP",
    "eur_per_gbp": "1.189980",
    "as_of": "2025-03-14T16:00:00Z",
    "source": "ecb",
}


@responses.activate
def test_fetch_reads_the_ecb_document() -> None:
    responses.get(ECB_DAILY_URL, body=SAMPLE, content_type="text/xml")
    assert fetch_fx_value(NOW) == VALUE


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.ConnectionError("connection refused")},
        {"status": 503, "body": b"Service Unavailable"},
        {"status": 200, "body": b"<html>maintenance</html>"},
    ],
    ids=["unreachable", "http-503", "not-the-document"],
)
@responses.activate
def test_fetch_fails_loudly_when_the_ecb_fails(failure: dict[str, object]) -> None:
    responses.add(responses.GET, ECB_DAILY_URL, **failure)  # type: ignore[arg-type]
    with pytest.raises(FxUnavailableError, match="nothing was published") as info:
        fetch_fx_value(NOW)
    assert "last known EUR/GBP rate" in str(info.value)


def _topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    async def describe() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            response = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"cleanup.policy": None})]
            )
        finally:
            await admin.close()
        (resource,) = response[0].resources
        return {entry[0]: entry[1] for entry in resource[4]}

    return asyncio.run(describe())


def _fx_records(settings: Settings) -> list[tuple[bytes | None, dict[str, object]]]:
    """Everything on the topic (read to its end offset: nothing published is missed)."""
    records = read_topic(settings.kafka_bootstrap_servers, settings.topic("fx.rates"), partitions=1)
    return [(r.key, orjson.loads(r.value)) for r in records]


def test_publish_creates_the_compacted_topic_and_publishes(isolated: Settings) -> None:
    settings = isolated
    first = publish_fx_value(VALUE, settings)
    assert first["topic"] == settings.topic("fx.rates")
    assert first["partition"] == 0
    # Idempotent topic creation: a second publish reuses the topic.
    second = publish_fx_value({**VALUE, "eur_per_gbp": "1.190000"}, settings)
    assert second["offset"] > first["offset"]

    config = _topic_config(settings.kafka_bootstrap_servers, settings.topic("fx.rates"))
    assert config["cleanup.policy"] == "compact"
    assert _fx_records(settings) == [
        (b"GBP", VALUE),
        (b"GBP", {**VALUE, "eur_per_gbp": "1.190000"}),
    ]


def test_fx_rates_dag_publishes_the_ecb_rate(isolated: Settings) -> None:
    settings = isolated
    with responses.RequestsMock() as rsps:
        rsps.get(ECB_DAILY_URL, body=SAMPLE, content_type="text/xml")
        dag_run, _ = run_dag("fx_rates")
    assert str(dag_run.state) == "success"
    assert _fx_records(settings) == [(b"GBP", VALUE)]


def test_fx_rates_dag_publishes_nothing_when_the_ecb_is_down(isolated: Settings) -> None:
    settings = isolated
    with responses.RequestsMock() as rsps:
        rsps.get(ECB_DAILY_URL, body=requests.ConnectionError("ECB down"))
        # retries=0: fail at once instead of retrying for minutes
        dag_run, states = run_dag("fx_rates", retries=0)
    assert str(dag_run.state) == "failed"
    assert states == {"fetch_rate": "failed", "publish_rate": "upstream_failed"}
    topic = settings.topic("fx.rates")
    assert topic not in _topics(settings.kafka_bootstrap_servers) or _fx_records(settings) == []


def _topics(bootstrap: str) -> list[str]:
    async def names() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return list(await admin.list_topics())
        finally:
            await admin.close()

    return asyncio.run(names())
