"""Isolation of a second system on the same stack: the one place that decides how a demo,
benchmark or test worker gets its own topics, indices, consumer group, state dir and ports,
and which settings are handed to its child processes.

Both :class:`devtools.demo.DemoServices` and :class:`devtools.worker_process.WorkerProcess`
use these, so the demo, the benchmark and the tests cannot drift apart.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from app.settings import Settings

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
