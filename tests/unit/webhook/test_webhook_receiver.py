"""The receiver's HTTP behaviour with a fake publisher at its boundary: the secret, the size
limit, bad bodies dead-lettered before the 400, 503 when the broker does not take the record,
and a 200 only once the publish has completed."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi.testclient import TestClient
from webhook_fakes import NOTIFICATION_JSON, RECEIVED_AT, SECRET, FakePublisher, receiver

from app.contracts.dead_letters import NotificationDeadLetter
from app.keepa.tracking.notifications import parse_notification
from app.webhook.body import MAX_BODY_BYTES
from app.webhook.publisher import PublisherHealth

URL = f"/keepa/{SECRET}"


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(publisher: FakePublisher) -> TestClient:
    return TestClient(receiver(publisher))


def counters(client: TestClient) -> dict[str, int]:
    stats = client.get("/stats")
    assert stats.status_code == 200
    result: dict[str, int] = stats.json()["counters"]
    return result


def test_a_notification_is_published_and_answered_200(
    client: TestClient, publisher: FakePublisher
) -> None:
    response = client.post(URL, content=NOTIFICATION_JSON)
    assert response.status_code == 200, response.text
    expected = parse_notification(NOTIFICATION_JSON, source="webhook", received_at=RECEIVED_AT)
    assert publisher.published == [expected]
    assert publisher.dead_letters == []
    assert response.json() == {
        "status": "published",
        "notification_id": expected.notification_id,
        "asin": "B07QK9XW3T",
        "market": "FR",
    }
    assert counters(client) == {"received": 1, "published": 1}


def test_the_same_notification_twice_is_published_twice_with_one_identity(
    client: TestClient, publisher: FakePublisher
) -> None:
    """Keepa's retry is passed on: the consumer deduplicates by notification_id."""
    first = client.post(URL, content=NOTIFICATION_JSON).json()
    retried = json.loads(NOTIFICATION_JSON)
    retried["ttl"] = 1439  # what differs between two copies of one notification
    second = client.post(URL, json=retried).json()
    assert first["notification_id"] == second["notification_id"]
    assert len(publisher.published) == 2


@pytest.mark.parametrize(
    "segment",
    [
        SECRET[:-1],
        SECRET + "x",
        SECRET.swapcase(),
        SECRET[1:] + SECRET[0],
        "x" * len(SECRET),
        "%20" + SECRET,
    ],
)
def test_a_wrong_secret_is_answered_like_an_unknown_path(
    client: TestClient, publisher: FakePublisher, segment: str
) -> None:
    response = client.post(f"/keepa/{segment}", content=NOTIFICATION_JSON)
    unknown = client.post("/no/such/path", content=NOTIFICATION_JSON)
    assert response.status_code == unknown.status_code == 404
    assert response.json() == unknown.json() == {"detail": "Not Found"}
    assert segment not in response.text
    assert publisher.handed == []
    assert counters(client) == {"not_found": 1}


def test_no_other_path_reaches_the_publisher(client: TestClient, publisher: FakePublisher) -> None:
    for path in ("/keepa/", "/keepa", f"/keepa/{SECRET}/x", f"/{SECRET}", f"/keepa/x/{SECRET}"):
        assert client.post(path, content=NOTIFICATION_JSON).status_code == 404, path
    assert client.get(URL).status_code == 405
    assert publisher.handed == []


def test_a_body_over_the_limit_is_refused_with_413(
    client: TestClient, publisher: FakePublisher
) -> None:
    big = b" " * (MAX_BODY_BYTES + 1 - len(NOTIFICATION_JSON)) + NOTIFICATION_JSON
    assert len(big) == MAX_BODY_BYTES + 1
    response = client.post(URL, content=big)
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in response.json()["detail"]
    # At the limit, the body is read (and is a notification: JSON allows the spaces).
    at_limit = big[1:]
    assert client.post(URL, content=at_limit).status_code == 200
    assert len(publisher.published) == 1
    assert counters(client) == {"too_large": 1, "received": 1, "published": 1}


def test_a_streamed_body_without_length_is_stopped_at_the_limit(
    client: TestClient, publisher: FakePublisher
) -> None:
    def chunks() -> object:
        for _ in range(100):  # 100 x 4 KiB = 400 KiB, far more than the limit
            yield b" " * 4096

    response = client.post(URL, content=chunks())  # type: ignore[arg-type]
    assert response.status_code == 413
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert publisher.handed == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed_json"),
        (b"", "malformed_json"),
        (b"[" + NOTIFICATION_JSON + b"]", "not_an_object"),
        (NOTIFICATION_JSON.replace(b'"domainId": 3', b'"domainId": 1'), "unknown_domain"),
        (NOTIFICATION_JSON.replace(b'"B07QK9XW3T"', b'"b07qk"'), "invalid_asin"),
        (NOTIFICATION_JSON.replace(b'"trackingNotificationCause": 1', b'"x": 1'), "unknown_cause"),
    ],
)
def test_a_body_that_is_no_notification_is_dead_lettered_then_refused_with_400(
    client: TestClient, publisher: FakePublisher, body: bytes, reason: str
) -> None:
    response = client.post(URL, content=body)
    assert response.status_code == 400, response.text
    assert response.json()["reason"] == reason
    assert publisher.published == []
    [(letter_body, letter)] = publisher.dead_letters
    assert letter_body == body  # unchanged, byte for byte
    assert letter.reason == reason
    assert letter.error == response.json()["detail"]
    assert letter.source == "webhook"
    assert letter.received_at == RECEIVED_AT
    assert NotificationDeadLetter.from_headers(letter.headers()) == letter
    stats = client.get("/stats").json()
    assert stats["counters"] == {"received": 1, "rejected": 1}
    assert stats["dlq_reasons"] == {reason: 1}


def test_503_when_the_notification_is_not_acknowledged() -> None:
    publisher = FakePublisher(fail="Kafka did not acknowledge within 5 s")
    client = TestClient(receiver(publisher))
    response = client.post(URL, content=NOTIFICATION_JSON)
    assert response.status_code == 503
    assert "Kafka did not acknowledge within 5 s" in response.json()["detail"]
    assert publisher.published == []
    stats = client.get("/stats").json()
    assert stats["counters"] == {"received": 1, "unavailable": 1}
    assert "Kafka did not acknowledge" in stats["last_error"]


def test_503_when_a_bad_body_cannot_be_dead_lettered() -> None:
    """A body that cannot be kept is not answered 400: it would vanish."""
    publisher = FakePublisher(fail="not connected to Kafka")
    client = TestClient(receiver(publisher))
    response = client.post(URL, content=b"{not json")
    assert response.status_code == 503
    assert publisher.dead_letters == []
    assert counters(client) == {"received": 1, "unavailable": 1}


async def _post_held(publisher: FakePublisher, body: bytes) -> httpx.Response:
    """POST while the publisher holds the record: the answer must wait for the publish."""
    gate = publisher.gate = asyncio.Event()
    transport = httpx.ASGITransport(app=receiver(publisher))
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
        request = asyncio.create_task(http.post(URL, content=body))
        for _ in range(50):
            await asyncio.sleep(0.01)
            if publisher.handed:
                break
        assert len(publisher.handed) == 1, "the record was never handed to the publisher"
        await asyncio.sleep(0.1)
        assert not request.done(), "answered before the broker acknowledged"
        gate.set()
        return await asyncio.wait_for(request, 10)


async def test_200_only_after_the_publish_completed() -> None:
    publisher = FakePublisher()
    response = await _post_held(publisher, NOTIFICATION_JSON)
    assert response.status_code == 200
    assert len(publisher.published) == 1


async def test_400_only_after_the_dead_letter_completed() -> None:
    publisher = FakePublisher()
    response = await _post_held(publisher, b"{not json")
    assert response.status_code == 400
    assert len(publisher.dead_letters) == 1


async def test_503_after_a_publish_that_failed_late() -> None:
    publisher = FakePublisher(fail="Kafka did not acknowledge within 5 s")
    response = await _post_held(publisher, NOTIFICATION_JSON)
    assert response.status_code == 503


def test_health_says_whether_notifications_can_be_published(publisher: FakePublisher) -> None:
    client = TestClient(receiver(publisher))
    assert client.get("/health").json() == {"status": "ok", "detail": "fake"}
    publisher.healthy = PublisherHealth(False, "not connected to Kafka")
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "detail": "not connected to Kafka"}


def test_the_publisher_runs_with_the_app(publisher: FakePublisher) -> None:
    with TestClient(receiver(publisher)) as client:
        assert publisher.started == 1
        assert client.post(URL, content=NOTIFICATION_JSON).status_code == 200
        assert publisher.stopped == 0
    assert publisher.stopped == 1


def test_no_api_documentation_is_served(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize(
    "secret",
    [None, "", "change-me", "a" * 31, "replace-me-with-a-long-random-string-please", "é" * 40],
)
def test_the_app_is_not_built_without_a_usable_secret(secret: str | None) -> None:
    with pytest.raises(ValueError, match="KEEPA_WEBHOOK_SECRET") as raised:
        receiver(FakePublisher(), secret=secret)
    if secret:
        assert secret not in str(raised.value)
