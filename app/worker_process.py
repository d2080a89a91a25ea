"""A worker process started as a user would (`arbitrage worker`), isolated by topic, index
and consumer-group prefixes. Used by the benchmark, the demo runner and the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from app.stack.processes import stop_group

ARBITRAGE = str(Path(sys.executable).parent / "arbitrage")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class WorkerProcess:
    name: str
    data_dir: Path
    log_path: Path
    base: Settings
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def settings(self) -> Settings:
        return self.base.model_copy(
            update={
                "topic_prefix": f"{self.name}.",
                "elasticsearch_index_prefix": f"{self.name}-",
                "faust_app_id": f"arbitrage-{self.name}",
                "topic_partitions": self.partitions,
            }
        )

    def env(self) -> dict[str, str]:
        s = self.settings
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
            "ELASTICSEARCH_URL": s.elasticsearch_url,
            "TOPIC_PREFIX": s.topic_prefix,
            "ELASTICSEARCH_INDEX_PREFIX": s.elasticsearch_index_prefix,
            "FAUST_APP_ID": s.faust_app_id,
            "FAUST_DATA_DIR": str(self.data_dir),
            "FAUST_WEB_PORT": str(self.web_port),
            "TOPIC_PARTITIONS": str(self.partitions),
            **self.extra_env,
        }

    def start(self, timeout_s: float = 90) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [ARBITRAGE, "worker", "--loglevel", "info"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.tail()}")
            stats = self.stats()
            if stats and any(
                p.startswith(self.settings.topic("keepa.products") + ":")
                for p in stats.get("assigned_partitions", [])
            ):
                return
            time.sleep(0.5)
        raise RuntimeError(f"worker not ready in {timeout_s}s: {self.tail()}")

    def stats(self) -> dict[str, Any] | None:
        try:
            r = httpx.get(f"http://127.0.0.1:{self.web_port}/arbitrage/stats/", timeout=2)
            body: dict[str, Any] = r.json()
            return body
        except (httpx.HTTPError, ValueError):
            return None

    def counter(self, name: str) -> int:
        stats = self.stats() or {}
        value: int = stats.get("counters", {}).get(name, 0)
        return value

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        stop_group(self.proc.pid, timeout_s=30)
        self.proc.wait(10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
