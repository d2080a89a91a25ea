"""Faust baselines of ``arbitrage bench``: how fast Faust itself goes on this machine.

Two tiny Faust apps, each run as a subprocess (``python -m devtools.bench_baselines``) over
the bench's backlog topic, with the worker's Kafka settings (``app.faust_app.KAFKA_SETTINGS``,
so they cannot drift apart), its event loop, its RocksDB options and its guard against
Faust's seek race:

* ``noop``: the agent only counts the events;
* ``table``: the agent also sets one small value per event in a RocksDB-backed table keyed by
  the message key (changelog on, as in production).

Each has its own app id (so its own consumer group and changelog topic) and data directory.
When the agent has seen ``--expected`` events it writes ``--out``, a JSON object with the
count and the wall-clock times of the first and of the last event (:class:`BaselineResult`),
from which the bench computes events/s over the same window as the worker's: first to last
processed event.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.isolation import free_port
from devtools.stack.processes import stop_group
from devtools.worker_process import log_tail

MODES = ("noop", "table")


@dataclass(frozen=True)
class BaselineResult:
    """What a baseline app saw: ``count`` events, the first at ``first``, the last at
    ``last`` (``time.time()`` seconds)."""

    count: int
    first: float
    last: float

    def to_json(self) -> str:
        return json.dumps({"count": self.count, "first": self.first, "last": self.last})

    @classmethod
    def from_json(cls, text: str) -> BaselineResult:
        body = json.loads(text)
        return cls(int(body["count"]), float(body["first"]), float(body["last"]))


@dataclass
class EventClock:
    """Counts events and stamps the first one and the ``expected``-th one. Events after that
    are still counted (a duplicate delivery would show in the result)."""

    expected: int
    count: int = 0
    first: float | None = None
    last: float | None = None

    def tick(self, now: float) -> bool:
        """Count one event seen at ``now``; true from the ``expected``-th one on."""
        self.count += 1
        if self.first is None:
            self.first = now
        if self.count == self.expected:
            self.last = now
        return self.count >= self.expected

    def result(self) -> BaselineResult:
        if self.first is None or self.last is None:
            raise ValueError(f"only {self.count}/{self.expected} events seen")
        return BaselineResult(self.count, self.first, self.last)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devtools.bench_baselines")
    p.add_argument("mode", choices=MODES)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--app-id", required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--web-port", type=int, required=True)
    p.add_argument("--expected", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    # Faust and the worker's app are imported only in the child.
    import faust

    from app.faust_app import (
        KAFKA_SETTINGS,
        hold_fetching_until_streams_are_seeked,
        use_configured_loop,
    )
    from app.faust_app import app as worker_app
    from tables.store_options import rocksdb_options

    use_configured_loop()
    conf = worker_app.conf
    app = faust.App(
        args.app_id,
        broker=[f"kafka://{server}" for server in args.bootstrap.split(",")],
        store="rocksdb://",
        datadir=str(args.data_dir),
        topic_partitions=args.partitions,
        topic_replication_factor=conf.topic_replication_factor,
        web_port=args.web_port,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_in_thread=False,
        autodiscover=False,
        **KAFKA_SETTINGS,
    )
    app.on_rebalance_complete.connect(hold_fetching_until_streams_are_seeked)
    topic = app.topic(args.topic, key_serializer="raw", value_serializer="raw")
    table = (
        app.Table(
            "bench-one",
            key_type=bytes,
            value_type=bytes,
            partitions=args.partitions,
            options=rocksdb_options(),
        )
        if args.mode == "table"
        else None
    )
    clock = EventClock(args.expected)
    out: Path = args.out

    @app.agent(topic)
    async def count(stream: Any) -> None:
        async for event in stream.events():
            if table is not None:
                table[event.key] = b"1"
            if clock.tick(time.time()):
                tmp = out.with_suffix(".tmp")
                tmp.write_text(clock.result().to_json())
                tmp.replace(out)

    sys.argv = [f"bench-baseline-{args.mode}", "worker", "--loglevel", "info"]
    app.main()


@dataclass
class BaselineProcess:
    """One baseline app in a subprocess of its own session, its state in ``workdir``."""

    mode: str
    app_id: str
    workdir: Path
    bootstrap: str
    topic: str
    partitions: int
    expected: int
    web_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def out(self) -> Path:
        return self.workdir / "result.json"

    @property
    def log_path(self) -> Path:
        return self.workdir / "baseline.log"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "devtools.bench_baselines", self.mode,
            "--bootstrap", self.bootstrap, "--topic", self.topic,
            "--partitions", str(self.partitions), "--app-id", self.app_id,
            "--data-dir", str(self.workdir / "data"), "--web-port", str(self.web_port),
            "--expected", str(self.expected), "--out", str(self.out),
        ]  # fmt: skip

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=Path(__file__).resolve().parent.parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def wait(self, timeout_s: float) -> BaselineResult:
        """The result, once the app has written it; raises if it exits or times out first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.out.exists():
                return BaselineResult.from_json(self.out.read_text())
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"baseline {self.mode} exited: {self.tail()}")
            time.sleep(0.2)
        raise RuntimeError(f"baseline {self.mode} not done in {timeout_s}s: {self.tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_group(self.proc.pid, timeout_s=30)
            self.proc.wait(10)

    def tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)


def run_baseline(
    mode: str,
    *,
    app_id: str,
    workdir: Path,
    bootstrap: str,
    topic: str,
    partitions: int,
    expected: int,
    timeout_s: float = 900,
) -> BaselineResult:
    """Run one baseline app over ``topic`` until it has seen ``expected`` events; stopped
    whatever happens."""
    process = BaselineProcess(mode, app_id, workdir, bootstrap, topic, partitions, expected)
    try:
        process.start()
        return process.wait(timeout_s)
    finally:
        process.stop()


if __name__ == "__main__":
    main()
