"""Isolation of a second system on the same stack: the one place that decides how a demo,
benchmark or test worker gets its own topics, indices, consumer group, state dir and ports,
and which settings are handed to its child processes.

Both :class:`devtools.demo.DemoServices` and :class:`devtools.worker_process.WorkerProcess`
use these, so the demo, the benchmark and the tests cannot drift apart. :class:`Isolated` says
what such a system created (by prefix) and the ``delete_*`` functions remove exactly that: the
backtest after its run, the tests after theirs (``tests/session_resources.py``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, cast

from app.settings import Settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

#: The ``arbitrage`` entry point of the running interpreter's environment.
ARBITRAGE = str(Path(sys.executable).parent / "arbitrage")

#: Settings handed to every child through its environment (the rest it reads as usual).
CHILD_SETTINGS: tuple[str, ...] = (
    "kafka_bootstrap_servers",
    "topic_prefix",
    "topic_partitions",
    "elasticsearch_url",
    "elasticsearch_index_prefix",
    "faust_app_id",
    "faust_store",
    "faust_data_dir",
    "faust_web_host",
    "faust_web_port",
    "api_host",
    "api_port",
    "api_url",
    "dashboard_port",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def isolated_settings(
    base: Settings, name: str, data_dir: Path, *, partitions: int | None = None
) -> Settings:
    """``base`` with its own topics, indices, consumer group, state dir and free ports, so
    a second system can run beside the developer's on the same stack."""
    api_port = free_port()
    return base.model_copy(
        update={
            "topic_prefix": f"{name}.",
            "elasticsearch_index_prefix": f"{name}-",
            "faust_app_id": f"arbitrage-{name}",
            "faust_data_dir": data_dir,
            "faust_web_port": free_port(),
            "api_port": api_port,
            "api_url": f"http://127.0.0.1:{api_port}",
            "dashboard_port": free_port(),
            "topic_partitions": partitions or base.topic_partitions,
        }
    )


def child_env(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: ours, with every setting that places it pinned
    (so a developer's ``.env`` or shell cannot point it at another system), then ``extra``."""
    values = settings.model_dump(include=set(CHILD_SETTINGS))
    pinned = {name.upper(): str(values[name]) for name in CHILD_SETTINGS}
    return {**os.environ, **pinned, **(extra or {})}


@dataclass(frozen=True)
class Isolated:
    """Which topics and indices belong to an isolated system: by prefix (never empty, so the
    developer's own, unprefixed, topics and indices never match)."""

    topic_prefixes: tuple[str, ...]
    index_prefixes: tuple[str, ...]

    def __post_init__(self) -> None:
        if not all((*self.topic_prefixes, *self.index_prefixes)):
            raise ValueError("refusing an empty prefix: it would match everything")

    @classmethod
    def of(cls, settings: Settings) -> Self:
        """What a system with these (isolated) settings creates: its topics, Faust's internal
        topics of its app id (changelogs, the assignor's leader topic), its indices."""
        return cls(
            (settings.topic_prefix, f"{settings.faust_app_id}-"),
            (settings.elasticsearch_index_prefix,),
        )

    def topics(self, names: Iterable[str]) -> list[str]:
        return sorted(n for n in names if n.startswith(self.topic_prefixes))

    def indices(self, names: Iterable[str]) -> list[str]:
        return sorted(n for n in names if n.startswith(self.index_prefixes))


def list_indices(es: Elasticsearch) -> set[str]:
    """Every index ``GET _cat/indices`` lists."""
    # format=json: a list of objects (the client types the body as text or any).
    rows = cast(list[dict[str, Any]], es.cat.indices(h="index", format="json").body)
    return {str(row["index"]) for row in rows}


async def list_topics(bootstrap: str) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def delete_indices(es: Elasticsearch, owned: Isolated) -> list[str]:
    """Delete the indices ``owned`` matches, by their explicit names (no wildcard deletes:
    Elasticsearch refuses them when ``action.destructive_requires_name`` is on)."""
    indices = owned.indices(list_indices(es))
    for i in range(0, len(indices), 50):  # a bounded URL per request
        es.indices.delete(index=",".join(indices[i : i + 50]), ignore_unavailable=True)
    return indices


async def delete_topics(bootstrap: str, owned: Isolated, timeout_s: float = 60) -> list[str]:
    """Delete the topics ``owned`` matches and wait until Kafka no longer lists them
    (deletion is asynchronous there)."""
    from aiokafka.admin import AIOKafkaAdminClient

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
