"""Session fixtures: the real local Kafka + Elasticsearch stack, started once per run.

The stack is started when the first integration test needs it and stopped at the end of the
session only when this session started it (a stack the developer already had running stays up).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from app.settings import Settings, get_settings
from devtools.stack import StackManager


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[StackManager]:
    manager = StackManager(settings)
    started = manager.up()
    yield manager
    if started:
        manager.down(started)


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: StackManager, settings: Settings) -> str:
    return settings.kafka_bootstrap_servers


@pytest.fixture(scope="session")
def es(stack: StackManager, settings: Settings) -> Iterator[Elasticsearch]:
    client = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    """A per-test unique suffix for topic and index names."""
    return uuid.uuid4().hex[:10]
