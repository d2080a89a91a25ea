"""The alerts index and store on the real Elasticsearch: the strict mapping takes the record
documents, and the record works as the dedup store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import AsyncElasticsearch, Elasticsearch

from app.alerts.config import WebhookConfig
from app.alerts.delivery import Attempt, DeliveryResult
from app.alerts.event import parse_opportunity
from app.alerts.formats import summary
from app.alerts.index import ALERTS_MAPPING, ensure_alerts_index
from app.alerts.record import alert_document
from app.alerts.retry import AttemptOutcome
from app.alerts.rules import alert_id
from app.alerts.store import AlertStoreError, EsAlertStore
from app.settings import Settings
from tests.unit.alerts.alert_events import opportunity_event

T = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
HOOK = WebhookConfig.model_validate(
    {"name": "team", "url": "https://hooks.slack.com/services/T0/B0/secret", "format": "slack"}
)
OPPORTUNITY = parse_opportunity(opportunity_event())
AID = alert_id(HOOK.name, OPPORTUNITY)


@pytest.fixture
async def client(settings: Settings, es: Elasticsearch) -> AsyncIterator[AsyncElasticsearch]:
    async_client = AsyncElasticsearch(settings.elasticsearch_url, request_timeout=30)
    yield async_client
    await async_client.close()


def _result(*statuses: int | None) -> DeliveryResult:
    attempts = []
    for n, status in enumerate(statuses, start=1):
        if status is not None and 200 <= status < 300:
            attempts.append(Attempt(n, T + timedelta(seconds=n), AttemptOutcome.DELIVERED, status))
        else:
            attempts.append(
                Attempt(
                    n,
                    T + timedelta(seconds=n),
                    AttemptOutcome.RETRY,
                    status,
                    "HTTP 500: nope" if status else "ConnectError: refused",
                    0.5,
                )
            )
    return DeliveryResult(tuple(attempts))


async def test_index_is_strict_and_the_record_is_the_dedup_store(
    client: AsyncElasticsearch, es: Elasticsearch, unique: str
) -> None:
    index = f"{unique}-alerts"
    store = EsAlertStore(client, index)
    await store.ensure_index()
    await ensure_alerts_index(client, index)  # idempotent
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert set(mapping["properties"]) == set(ALERTS_MAPPING["properties"])

    assert not await store.already_sent(AID)
    failed = alert_document(AID, HOOK, OPPORTUNITY, _result(500, None), summary(OPPORTUNITY), T)
    await store.save(AID, failed)
    assert not await store.already_sent(AID)  # failed: a redelivery tries again
    limited = DeliveryResult((), rate_limited=True)
    await store.save(AID, alert_document(AID, HOOK, OPPORTUNITY, limited, "s", T))
    assert not await store.already_sent(AID)
    assert es.get(index=index, id=AID)["_source"]["status"] == "rate_limited"
    sent = alert_document(AID, HOOK, OPPORTUNITY, _result(500, 200), summary(OPPORTUNITY), T)
    await store.save(AID, sent)
    assert await store.already_sent(AID)  # realtime get: no refresh needed

    doc = es.get(index=index, id=AID)["_source"]
    assert doc["status"] == "sent"
    assert doc["attempts"] == 2
    assert doc["http_status"] == 200
    assert doc["sent_at"] == "2026-11-25T09:30:02Z"
    assert [a["outcome"] for a in doc["attempt_log"]] == ["retry", "delivered"]
    assert doc["webhook_host"] == "hooks.slack.com"
    assert "secret" not in str(doc)

    with pytest.raises(AlertStoreError, match="strict_dynamic_mapping"):
        await store.save("x", {**sent, "unexpected": 1})


async def test_a_deleted_index_is_recreated(
    client: AsyncElasticsearch, es: Elasticsearch, unique: str
) -> None:
    index = f"{unique}-alerts"
    store = EsAlertStore(client, index)
    assert not await store.already_sent(AID)
    assert es.indices.exists(index=index)
    assert es.indices.get_mapping(index=index)[index]["mappings"]["dynamic"] == "strict"
