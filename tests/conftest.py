"""Session fixtures: the real local Kafka + Elasticsearch stack, started once per run.

The stack is started when the first integration test needs it and stopped at the end of the
session only when this session started it (a stack the developer already had running stays up).
Before that, every topic and index this session created (all named under
``tests.session_resources.SESSION_PREFIX``) is deleted, so a run leaves the stack as it found it.

``tests.env_guard`` fails any test (or test module import) that changes ``os.environ``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from app.settings import Settings
from devtools.stack import StackManager
from tests.env_guard import preserved_environment
from tests.session_resources import (
    SESSION_PREFIX,
    Deleted,
    Owned,
    delete_owned_sync,
    resource_name,
)

pytest_plugins = ("tests.env_guard",)

# Streamlit assigns os.environ["MPLBACKEND"] = "Agg" when first imported (its __init__), which
# the dashboard tests do. Imported once here with that taken back, so the rest of the run and
# the processes it starts keep their environment. (Not installed in the Airflow environment.)
with preserved_environment(), contextlib.suppress(ImportError):
    import streamlit  # noqa: F401

_CLEANED = pytest.StashKey[Deleted]()


#: Fixtures that reach the real stack: a test using any of them is an integration test.
STACK_FIXTURES = frozenset({"stack", "kafka_bootstrap", "es"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs_stack = STACK_FIXTURES & set(getattr(item, "fixturenames", ()))
        if "/tests/integration/" in str(item.path) or needs_stack:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The configuration of this run, read now (not ``get_settings()``'s cached copy, which
    whatever imported the app first may have built under a patched environment)."""
    return Settings()


@pytest.fixture(scope="session")
def stack(settings: Settings, request: pytest.FixtureRequest) -> Iterator[StackManager]:
    manager = StackManager(settings)
    started = manager.up()
    yield manager
    try:
        es = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
        try:
            deleted = delete_owned_sync(settings.kafka_bootstrap_servers, es, Owned.session())
        finally:
            es.close()
        request.config.stash[_CLEANED] = deleted
    finally:
        if started:
            manager.down(started)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    deleted = config.stash.get(_CLEANED, None)
    if deleted is not None:
        terminalreporter.write_line(
            f"stack cleanup: deleted {len(deleted.topics)} topics and {len(deleted.indices)} "
            f"indices named {SESSION_PREFIX}*"
        )


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
    """A per-test unique name under the session prefix, to name (or prefix) the topics,
    indices and consumer groups of one test: they are deleted at the end of the session."""
    return resource_name("test")
