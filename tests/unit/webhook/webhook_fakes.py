"""Test doubles for the receiver's unit tests: a publisher at the app's boundary (the
:class:`app.webhook.publisher.NotificationPublisher` protocol) that records what it is given."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from app.contracts.dead_letters import NotificationDeadLetter
from app.contracts.keepa_notifications import KeepaNotification
from app.settings import Settings
from app.webhook.main import create_app
from app.webhook.publisher import PublisherHealth, PublishUnavailableError

#: A usable secret (URL-safe, 43 characters), new per test run.
SECRET = secrets.token_urlsafe(32)
#: The time every request is received at (the app's clock).
RECEIVED_AT = datetime(2026, 3, 13, 9, 31, 7, tzinfo=UTC)
#: Keepa's notification object as it posts it (tests/unit/keepa/data/).
NOTIFICATION_JSON = (
    Path(__file__).resolve().parents[1] / "keepa" / "data" / "notification.json"
).read_bytes()


@dataclass
class FakePublisher:
    """Records every call. ``fail`` makes publish and dead_letter raise
    :class:`PublishUnavailableError`; ``gate``, when set, holds each of them until it is set
    (the record is counted as handed over as soon as the call starts)."""

    fail: str | None = None
    gate: asyncio.Event | None = None
    healthy: PublisherHealth = field(default_factory=lambda: PublisherHealth(True, "fake"))
    started: int = 0
    stopped: int = 0
    handed: list[KeepaNotification | tuple[bytes, NotificationDeadLetter]] = field(
        default_factory=list
    )
    published: list[KeepaNotification] = field(default_factory=list)
    dead_letters: list[tuple[bytes, NotificationDeadLetter]] = field(default_factory=list)

    async def start(self) -> None:
        self.started += 1

    async def stop(self) -> None:
        self.stopped += 1

    async def _settle(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise PublishUnavailableError(self.fail)

    async def publish(self, notification: KeepaNotification) -> None:
        self.handed.append(notification)
        await self._settle()
        self.published.append(notification)

    async def dead_letter(self, body: bytes, letter: NotificationDeadLetter) -> None:
        self.handed.append((body, letter))
        await self._settle()
        self.dead_letters.append((body, letter))

    async def health(self) -> PublisherHealth:
        return self.healthy


def receiver(publisher: FakePublisher, secret: str | None = SECRET) -> FastAPI:
    """The real receiver app for ``secret``, publishing through ``publisher``."""
    settings = Settings(keepa_webhook_secret=secret, topic_prefix="unit.")
    return create_app(settings, publisher=publisher, clock=lambda: RECEIVED_AT)
