"""``dag.test()`` of keepa_gapfill against the real Kafka and Elasticsearch, Keepa's
notification queue faked at the HTTP boundary in Keepa's real JSON: a notification missing
from keepa.notifications is published, once, and the watermark moves."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import orjson
import pytest
import responses
from elasticsearch import Elasticsearch

from app.contracts.keepa_notifications import KEEPA_NOTIFICATIONS_TOPIC
from app.domain.keepa_time import to_keepa_minutes
from app.ingest.gapfill import load_watermark
from app.settings import Settings
from tests.airflow.airflow_support import read_topic, run_dag
from tests.airflow.keepa_fake import FakeKeepa
from tests.unit.keepa.keepa_fakes import BASE_URL, load_json

pytestmark = pytest.mark.integration


def test_keepa_gapfill_publishes_the_missed_notification_once(
    isolated: Settings, es: Elasticsearch
) -> None:
    settings = isolated
    item = copy.deepcopy(load_json("notification_queue_response.json")["notifications"][1])
    item["createDate"] = to_keepa_minutes(datetime.now(UTC)) - 5
    keepa = FakeKeepa(notifications=[item])

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{BASE_URL}/tracking", callback=keepa)
        for _ in range(2):
            dag_run, states = run_dag("keepa_gapfill", retries=0)
            assert str(dag_run.state) == "success", states

    assert keepa.errors == []
    assert len([c for c in keepa.calls if "query" in c]) == 2
    records = read_topic(
        settings.kafka_bootstrap_servers,
        settings.topic(KEEPA_NOTIFICATIONS_TOPIC),
        partitions=settings.topic_partitions,
    )
    assert [(r.key, orjson.loads(r.value)["source"]) for r in records] == [
        (item["asin"].encode(), "queue")
    ]
    assert load_watermark(es, settings) is not None
