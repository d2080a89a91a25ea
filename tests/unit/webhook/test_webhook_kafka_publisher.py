"""The Kafka publisher without a broker (nothing listens on its port): the receiver's start
does not wait for Kafka, and every publish is refused at once, which the app answers 503.
With the real broker: tests/integration/webhook/."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from webhook_fakes import NOTIFICATION_JSON, RECEIVED_AT

from app.contracts.dead_letters import NotificationDeadLetter
from app.keepa.tracking.notifications import parse_notification
from app.settings import Settings
from app.webhook.kafka_publisher import KafkaNotificationPublisher
from app.webhook.publisher import PublishUnavailableError
from tests.webhook_receiver import closed_port


def test_topics_and_time_limit_come_from_the_settings() -> None:
    settings = Settings(topic_prefix="p1.", webhook_publish_timeout_s=2.5)
    publisher = KafkaNotificationPublisher.for_settings(settings)
    assert publisher.topic == "p1.keepa.notifications"
    assert publisher.dlq_topic == "p1.keepa.webhook.dlq"
    with pytest.raises(ValueError, match="timeout_s"):
        KafkaNotificationPublisher("x:1", "t", "d", timeout_s=0)


async def test_without_a_broker_every_publish_is_refused_at_once() -> None:
    publisher = KafkaNotificationPublisher(
        f"127.0.0.1:{closed_port()}", "t", "t.dlq", timeout_s=5, connect_retry_s=0.2
    )
    started = time.monotonic()
    await publisher.start()  # does not wait for the broker
    assert time.monotonic() - started < 1
    try:
        deadline = time.monotonic() + 10
        while "cannot be reached" not in (await publisher.health()).detail:
            assert time.monotonic() < deadline, (await publisher.health()).detail
            await asyncio.sleep(0.05)
        health = await publisher.health()
        assert not health.ok
        assert health.detail == (
            "not connected to Kafka (Kafka cannot be reached: KafkaConnectionError)"
        )
        notification = parse_notification(
            NOTIFICATION_JSON, source="webhook", received_at=RECEIVED_AT
        )
        letter = NotificationDeadLetter(
            reason="malformed_json", error="x", source="webhook", received_at=datetime.now(UTC)
        )
        for call in (publisher.publish(notification), publisher.dead_letter(b"{", letter)):
            begun = time.monotonic()
            with pytest.raises(PublishUnavailableError, match="not connected to Kafka"):
                await call
            assert time.monotonic() - begun < 0.5
        assert not publisher.connected
    finally:
        await publisher.stop()
    await publisher.stop()  # twice is harmless
