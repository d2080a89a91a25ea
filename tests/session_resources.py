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
import uuid
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from devtools.isolation import Isolated, delete_indices, delete_topics, list_indices, list_topics

__all__ = [
    "FAUST_INTERNAL_PREFIX",
    "SESSION_PREFIX",
    "Deleted",
    "Owned",
    "delete_indices",
    "delete_owned",
    "delete_owned_sync",
    "delete_topics",
    "list_indices",
    "list_topics",
    "resource_name",
]

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
class Owned(Isolated):
    """:class:`devtools.isolation.Isolated` under this session's prefix only."""

    def __post_init__(self) -> None:
        for prefix in (*self.topic_prefixes, *self.index_prefixes):
            if not prefix.startswith((SESSION_PREFIX, FAUST_INTERNAL_PREFIX)):
                raise ValueError(
                    f"refusing to clean up {prefix!r}: not under this session's prefix "
                    f"{SESSION_PREFIX!r}"
                )
        super().__post_init__()

    @classmethod
    def indices_under(cls, prefix: str) -> Owned:
        """Only the indices whose names start with ``prefix``."""
        return cls((), (prefix,))

    @classmethod
    def session(cls) -> Owned:
        """Everything this test session created."""
        return cls((SESSION_PREFIX, FAUST_INTERNAL_PREFIX), (SESSION_PREFIX,))


@dataclass(frozen=True)
class Deleted:
    topics: list[str]
    indices: list[str]


async def delete_owned(bootstrap: str, es: Elasticsearch, owned: Owned) -> Deleted:
    """Delete the topics and indices ``owned`` matches, and nothing else."""
    indices = delete_indices(es, owned)
    return Deleted(await delete_topics(bootstrap, owned), indices)


def delete_owned_sync(bootstrap: str, es: Elasticsearch, owned: Owned) -> Deleted:
    """:func:`delete_owned` for synchronous fixtures (no event loop running in this thread)."""
    return asyncio.run(delete_owned(bootstrap, es, owned))
