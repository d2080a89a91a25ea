"""What the receiver's endpoints publish through: a notification to ``keepa.notifications``, a
body that is none to ``keepa.webhook.dlq``; both return once the broker has it.

The app depends on this protocol only: the Kafka implementation is
:class:`app.webhook.kafka_publisher.KafkaNotificationPublisher`; unit tests give the app a
fake one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.contracts.dead_letters import NotificationDeadLetter
from app.contracts.keepa_notifications import KeepaNotification

__all__ = ["NotificationPublisher", "PublishUnavailableError", "PublisherHealth"]


class PublishUnavailableError(RuntimeError):
    """The broker did not acknowledge the record in time (or cannot be reached): the
    receiver answers 503. The message says why and never holds a secret."""


@dataclass(frozen=True, slots=True)
class PublisherHealth:
    """Whether the publisher can publish now, and a line that says why (for ``/health``)."""

    ok: bool
    detail: str


class NotificationPublisher(Protocol):
    """Publishes what the receiver was sent; each call returns after the broker's
    acknowledgement or raises :class:`PublishUnavailableError`."""

    async def start(self) -> None:
        """Begin connecting (returns at once: the receiver serves, answering 503, until the
        broker is reached)."""

    async def stop(self) -> None:
        """Deliver what is pending (within the time limit) and disconnect."""

    async def publish(self, notification: KeepaNotification) -> None:
        """``notification`` on ``keepa.notifications``, key = its ASIN."""

    async def dead_letter(self, body: bytes, letter: NotificationDeadLetter) -> None:
        """``body`` unchanged on ``keepa.webhook.dlq``, ``letter`` as its headers."""

    async def health(self) -> PublisherHealth:
        """Connected to the broker, and both topics exist."""
