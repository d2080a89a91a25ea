"""Names of the Kafka topics and Elasticsearch indices a test session creates, and their cleanup.

Every topic, index and consumer group a test creates on the shared stack is named under one
per-session prefix, ``pytest-<8 hex>-`` (:data:`SESSION_PREFIX`), through :func:`resource_name`
(or the ``unique`` fixture). A worker named ``N`` (``devtools.isolation.isolated_settings``)
owns the topics ``N.*``, Faust's internal topics ``arbitrage-N-*`` (changelogs, the assignor's
leader topic, repartitions) and the indices ``N-*``.

:func:`delete_owned` deletes what matches an :class:`Owned` and nothing else; it refuses
prefixes outside this session's, so it can never touch the developer's own topics and indices
(which have no prefix) or those of another test run on the same stack.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import Elasticsearch

from app.settings import Settings

#: Every name this session gives a topic, index or consumer group starts with this.
SESSION_PREFIX = f"pytest-{uuid.uuid4().hex[:8]}-"
#: Faust names its internal topics after the app id, ``arbitrage-<name>`` for a test worker.
FAUST_INTERNAL_PREFIX = f"arbitrage-{SESSION_PREFIX}"


def resource_name(kind: str) -> str:
    """A new name for a test's own topics / indices / worker: ``<session prefix><kind>-<hex>``.

    ``kind`` says what it is for (``topo``, ``e2e``...); lower case, as index names must be."""
    if not kind or kind != kind.lower() or not kind.replace("-", "").isalnum():
        raise ValueError(f"kind must be lower-case alphanumeric: {kind!r}")
    return f"{SESSION_PREFIX}{kind}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Owned:
    """Which topics and indices belong to something (the session, one worker): by prefix."""

    topic_prefixes: tuple[str, ...]
    index_prefixes: tuple[str, ...]

    def __post_init__(self) -> None:
        for prefix in (*self.topic_prefixes, *self.index_prefixes):
            if not prefix.startswith((SESSION_PREFIX, FAUST_INTERNAL_PREFIX)):
                raise ValueError(
                    f"refusing to clean up {prefix!r}: not under this session's prefix "
                    f"{SESSION_PREFIX!r}"
                )

    @classmethod
    def indices_under(cls, prefix: str) -> Owned:
        """Only the indices whose names start with ``prefix``."""
        return cls((), (prefix,))

    @classmethod
    def session(cls) -> Owned:
        """Everything this test session created."""
        return cls((SESSION_PREFIX, FAUST_INTERNAL_PREFIX), (SESSION_PREFIX,))

    @classmethod
    def of(cls, settings: Settings) -> Owned:
        """What a system with these (isolated) settings creates: its topics, Faust's internal
        topics of its app id, its indices."""
        return cls(
            (settings.topic_prefix, f"{settings.faust_app_id}-"),
            (settings.elasticsearch_index_prefix,),
        )

    def topics(self, names: Iterable[str]) -> list[str]:
        return sorted(n for n in names if n.startswith(self.topic_prefixes))

    def indices(self, names: Iterable[str]) -> list[str]:
        return sorted(n for n in names if n.startswith(self.index_prefixes))


@dataclass(frozen=True)
class Deleted:
    topics: list[str]
    indices: list[str]


def list_indices(es: Elasticsearch) -> set[str]:
    """Every index ``GET _cat/indices`` lists."""
    rows = es.cat.indices(h="index", format="json")
    return {str(row["index"]) for row in rows}


async def list_topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def delete_indices(es: Elasticsearch, owned: Owned) -> list[str]:
    """Delete the indices ``owned`` matches, by their explicit names (no wildcard deletes:
    Elasticsearch refuses them when ``action.destructive_requires_name`` is on)."""
    indices = owned.indices(list_indices(es))
    for i in range(0, len(indices), 50):  # a bounded URL per request
        es.indices.delete(index=",".join(indices[i : i + 50]), ignore_unavailable=True)
    return indices


async def delete_topics(bootstrap: str, owned: Owned, timeout_s: float = 60) -> list[str]:
    """Delete the topics ``owned`` matches and wait until Kafka no longer lists them
    (deletion is asynchronous there)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = owned.topics(await admin.list_topics())
        if topics:
            await admin.delete_topics(topics)
        deadline = time.monotonic() + timeout_s
        while left := set(topics) & set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise AssertionError(f"topics still listed {timeout_s}s after deletion: {left}")
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    return topics


async def delete_owned(bootstrap: str, es: Elasticsearch, owned: Owned) -> Deleted:
    """Delete the topics and indices ``owned`` matches, and nothing else."""
    indices = delete_indices(es, owned)
    return Deleted(await delete_topics(bootstrap, owned), indices)


def delete_owned_sync(bootstrap: str, es: Elasticsearch, owned: Owned) -> Deleted:
    """:func:`delete_owned` for synchronous fixtures (no event loop running in this thread)."""
    return asyncio.run(delete_owned(bootstrap, es, owned))
