"""A worker process started as a user would (`arbitrage worker`), isolated by topic, index
and consumer-group prefixes (:func:`devtools.isolation.isolated_settings`). Used by the
benchmark and the tests.

It runs with the production table store, RocksDB, whatever the base settings or the calling
environment say: ``store`` is pinned in the child's environment, and :meth:`WorkerProcess.start`
checks in the worker's own stats view that every table really opened that store."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from devtools.isolation import ARBITRAGE, child_env, free_port, isolated_settings
from devtools.stack.processes import stop_group

#: The table store of production, and so of every worker the tests and the bench start.
PRODUCTION_STORE = "rocksdb://"


def status_kb(status: str, field_name: str) -> int:
    """A ``kB`` field (``VmRSS``, ``VmHWM``...) of the text of a ``/proc/PID/status`` file."""
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name == field_name:
            number, _, unit = value.strip().partition(" ")
            if unit != "kB":
                raise ValueError(f"{field_name} is not in kB: {line!r}")
            return int(number)
    raise ValueError(f"no {field_name} in the process status")


@dataclass
class WorkerProcess:
    name: str
    data_dir: Path
    log_path: Path
    base: Settings
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)
    #: The table store the worker must run with; anything but RocksDB only when asked for.
    store: str = PRODUCTION_STORE
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        isolated = isolated_settings(
            self.base, self.name, self.data_dir, partitions=self.partitions
        ).model_copy(update={"faust_web_port": self.web_port, "faust_store": self.store})
        # What the child really runs with: ``extra_env`` wins over the pinned settings (e.g.
        # FAUST_APP_ID for a second consumer group), so ``settings`` must say so too.
        overrides = {
            key.lower(): value
            for key, value in self.extra_env.items()
            if key.lower() in Settings.model_fields
        }
        self.settings: Settings = Settings.model_validate({**isolated.model_dump(), **overrides})

    def env(self) -> dict[str, str]:
        return child_env(self.settings, self.extra_env)

    def start(self, timeout_s: float = 90, poll_s: float = 0.5) -> None:
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
                self._check_store(stats)
                return
            time.sleep(poll_s)
        raise RuntimeError(f"worker not ready in {timeout_s}s: {self.tail()}")

    def _check_store(self, stats: dict[str, Any]) -> None:
        """Stop the worker and raise unless it and every one of its tables use ``store``."""
        used = {"(configured)": stats.get("store"), **stats.get("table_stores", {})}
        wrong = {name: store for name, store in used.items() if store != self.store}
        if wrong or len(used) < 2:
            self.stop()
            raise RuntimeError(
                f"worker {self.name} runs with table store(s) {used}, expected {self.store}"
            )

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

    def memory_mb(self) -> tuple[float, float]:
        """``(current RSS, peak RSS)`` of the worker in MB (VmRSS and VmHWM of the process
        ``start`` ran: the Python interpreter of ``arbitrage worker`` itself, no wrapper)."""
        if self.proc is None:
            raise RuntimeError(f"worker {self.name} was not started")
        exe = Path(f"/proc/{self.proc.pid}/exe").resolve().name
        if not exe.startswith("python"):
            raise RuntimeError(f"worker {self.name} runs {exe}, not the Python interpreter")
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return status_kb(status, "VmRSS") / 1024, status_kb(status, "VmHWM") / 1024

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
        return log_tail(self.log_path, lines)


def log_tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a process's log (for error messages)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
