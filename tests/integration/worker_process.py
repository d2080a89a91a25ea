"""A real worker process, started as a user would (`arbitrage worker`), isolated per test by
topic, index and consumer-group prefixes, plus helpers to feed it and read what it emits."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from app.settings import Settings

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
            assert self.proc.poll() is None, f"worker exited: {self.tail()}"
            stats = self.stats()
            if stats and any(
                p.startswith(self.settings.topic("keepa.products") + ":")
                for p in stats.get("assigned_partitions", [])
            ):
                return
            time.sleep(0.5)
        raise AssertionError(f"worker not ready in {timeout_s}s: {self.tail()}")

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
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


async def produce(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def envelope_bytes(envelope: dict[str, Any]) -> tuple[bytes, bytes]:
    return envelope["product"]["asin"].encode(), orjson.dumps(envelope)


async def consume_until(
    bootstrap: str,
    topic: str,
    done: Callable[[Sequence[ConsumerRecord[bytes, bytes]]], bool],
    timeout_s: float = 60,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``topic`` from the beginning until ``done(records)`` or the timeout."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not done(records):
            if time.monotonic() > deadline:
                break
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records


def events_of(records: Iterable[ConsumerRecord[bytes, bytes]]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records if r.value is not None]


async def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.5)
