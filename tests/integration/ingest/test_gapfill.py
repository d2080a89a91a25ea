"""``arbitrage tracking gapfill`` on the real Kafka and Elasticsearch, Keepa's notification
queue faked by a local HTTP server answering in Keepa's real JSON
(:class:`tests.airflow.keepa_fake.FakeKeepa`).

The scene: the real webhook receiver (``arbitrage webhook``) took notification A, then was
killed (``kill -9``) and Keepa's pushes of B and C and their retries found nobody: they
never reached ``keepa.notifications``. Keepa's queue holds all of them (and D, created this
minute, and an item that is not one of our notifications). The gap fill publishes B and C
exactly once, not A again, not D yet; a second run publishes nothing.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from app.cli import cli
from app.contracts.keepa_notifications import (
    KEEPA_NOTIFICATION,
    KEEPA_NOTIFICATIONS_TOPIC,
    KEEPA_WEBHOOK_DLQ_TOPIC,
    KeepaNotification,
)
from app.domain.keepa_time import to_keepa_minutes
from app.ingest.gapfill import NOTIFICATION_QUEUE_READS, OVERLAP, load_watermark
from app.ingest.ingestion import ensure_app_topic
from app.ingest.topic_reader import read_to_end
from app.keepa.tracking.notifications import parse_notification
from app.settings import Settings, get_settings
from devtools.webhook_process import WebhookProcess
from tests.airflow.keepa_fake import FakeKeepa
from tests.unit.keepa.keepa_fakes import API_KEY, load_json

pytestmark = pytest.mark.integration


def _queue_items(now_minutes: int) -> dict[str, dict[str, Any]]:
    """Keepa's real queue items, re-dated into the last minutes; plus D (this minute) and
    an item for a market that is not ours."""
    b, a, c = copy.deepcopy(load_json("notification_queue_response.json")["notifications"])
    a["createDate"] = now_minutes - 10
    b["createDate"] = now_minutes - 3
    c["createDate"] = now_minutes - 20
    d = {**copy.deepcopy(b), "asin": "B0DDDDDDD1", "createDate": now_minutes}
    foreign = {**copy.deepcopy(a), "domainId": 1, "notificationDomainId": 1}
    return {"A": a, "B": b, "C": c, "D": d, "foreign": foreign}


@pytest.fixture
def keepa() -> FakeKeepa:
    return FakeKeepa()


@pytest.fixture
def gap_settings(
    stack: object, unique: str, keepa: FakeKeepa, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    with keepa.serve() as url:
        monkeypatch.setenv("TOPIC_PREFIX", f"{unique}-")
        monkeypatch.setenv("ELASTICSEARCH_INDEX_PREFIX", f"{unique}-")
        monkeypatch.setenv("KEEPA_API_KEY", API_KEY)
        monkeypatch.setenv("KEEPA_API_URL", url)
        get_settings.cache_clear()
        settings = Settings()
        # The worker's job (the receiver publishes to both, and is healthy once they exist).
        ensure_app_topic(settings, KEEPA_NOTIFICATIONS_TOPIC)
        ensure_app_topic(settings, KEEPA_WEBHOOK_DLQ_TOPIC)
        yield settings
    get_settings.cache_clear()


def _push(receiver: WebhookProcess, item: dict[str, Any]) -> int | None:
    """What Keepa does: POST the notification to the webhook URL; the status, or None when
    nothing answered."""
    try:
        return httpx.post(receiver.url, content=orjson.dumps(item), timeout=10).status_code
    except httpx.TransportError:
        return None


def _on_topic(settings: Settings) -> list[KeepaNotification]:
    records = asyncio.run(
        read_to_end(
            settings.kafka_bootstrap_servers,
            settings.topic(KEEPA_NOTIFICATIONS_TOPIC),
            timeout_s=30,
        )
    )
    out = []
    for key, value in records:
        notification = KEEPA_NOTIFICATION.decode(value)
        assert key == notification.asin.encode()
        out.append(notification)
    return out


def _queue_id(item: dict[str, Any]) -> str:
    return parse_notification(
        orjson.dumps(item), source="queue", received_at=datetime.now(UTC)
    ).notification_id


def test_the_gap_fill_publishes_what_the_webhook_missed_exactly_once(
    gap_settings: Settings, es: Elasticsearch, keepa: FakeKeepa, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    items = _queue_items(to_keepa_minutes(now))
    receiver = WebhookProcess(gap_settings, tmp_path / "webhook.log")
    receiver.start()
    try:
        assert _push(receiver, items["A"]) == 200, receiver.tail()
        receiver.kill()
        # Keepa pushes B and C, and retries each once (about 15 s later; at once here).
        assert [_push(receiver, items[k]) for k in ("B", "B", "C", "C")] == [None] * 4
    finally:
        receiver.stop()
    keepa.notifications = [items[k] for k in ("D", "B", "foreign", "A", "C")]  # newest first
    ids = {name: _queue_id(item) for name, item in items.items() if name != "foreign"}
    assert [n.notification_id for n in _on_topic(gap_settings)] == [ids["A"]]

    first = CliRunner().invoke(cli, ["tracking", "gapfill"])

    assert first.exit_code == 0, first.output
    assert "4 notifications, 1 rejected" in first.output
    assert "already received: 1; published: 2 to keepa.notifications" in first.output
    assert "left for the next run (under 60 s old): 1" in first.output
    assert "tokens: 0 consumed, 1180 left" in first.output
    assert API_KEY not in first.output
    on_topic = _on_topic(gap_settings)
    assert Counter(n.notification_id for n in on_topic) == Counter(
        {ids["A"]: 1, ids["B"]: 1, ids["C"]: 1}
    )
    sources = {n.notification_id: n.source for n in on_topic}
    assert sources == {ids["A"]: "webhook", ids["B"]: "queue", ids["C"]: "queue"}
    assert [n.notification_id for n in on_topic if n.source == "queue"] in (
        [ids["C"], ids["B"]],  # oldest first (same partition) ...
        [ids["B"], ids["C"]],  # ... or different partitions, read partition by partition
    )
    # No watermark yet: Keepa's 24 hours were read.
    (queue_read,) = [c for c in keepa.calls if "query" in c]
    assert int(queue_read["query"]["since"]) == to_keepa_minutes(now) - 24 * 60
    assert queue_read["query"]["revise"] == "1"
    watermark = load_watermark(es, gap_settings)
    assert watermark is not None

    second = CliRunner().invoke(cli, ["tracking", "gapfill"])

    assert second.exit_code == 0, second.output
    # From the watermark minus the overlap: B (received now) and D (still settling).
    assert "2 notifications, 0 rejected" in second.output
    assert "already received: 1; published: 0" in second.output
    assert len(_on_topic(gap_settings)) == 3
    reads = [c for c in keepa.calls if "query" in c]
    assert int(reads[1]["query"]["since"]) == to_keepa_minutes(watermark - OVERLAP)
    doc = es.get(index=gap_settings.index(NOTIFICATION_QUEUE_READS), id="keepa-queue:")
    assert (doc["_source"]["read"], doc["_source"]["published"]) == (2, 0)


def test_since_overrides_the_watermark(gap_settings: Settings, keepa: FakeKeepa) -> None:
    now = datetime.now(UTC)
    items = _queue_items(to_keepa_minutes(now))
    keepa.notifications = [items[k] for k in ("B", "A", "C")]

    result = CliRunner().invoke(cli, ["tracking", "gapfill", "--since", "15"])

    assert result.exit_code == 0, result.output
    assert "already received: 0; published: 2" in result.output  # B and A, not C (20 min)
    assert {n.asin for n in _on_topic(gap_settings)} == {items["A"]["asin"], items["B"]["asin"]}


def test_kafka_down_fails_and_keeps_the_watermark(
    gap_settings: Settings, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")  # refused
    get_settings.cache_clear()

    result = CliRunner().invoke(cli, ["tracking", "gapfill"])

    assert result.exit_code == 1
    assert "TopicUnavailableError" in result.output
    assert load_watermark(es, gap_settings) is None
