"""A Keepa webhook receiver process started as a user would (`arbitrage webhook`), on a free
port, with the settings it is given pinned in its environment (its own topic prefix, a
secret of its own). Used by the tests and the receiver's benchmark."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.settings import Settings
from devtools.isolation import ARBITRAGE, child_env, free_port
from devtools.stack.processes import stop_group
from devtools.worker_process import log_tail

__all__ = ["WebhookProcess"]


@dataclass
class WebhookProcess:
    """``arbitrage webhook --port <port>`` for ``settings`` (Kafka, topic prefix), with
    ``secret`` as ``KEEPA_WEBHOOK_SECRET`` and ``extra_env`` on top; its output goes to
    ``log_path``. The working directory is the log's (no developer ``.env`` is read)."""

    settings: Settings
    log_path: Path
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The URL Keepa would be given (here on plain HTTP, on the loopback)."""
        return f"{self.base}/keepa/{self.secret}"

    def env(self) -> dict[str, str]:
        env = child_env(self.settings, {"KEEPA_WEBHOOK_SECRET": self.secret, **self.extra_env})
        env.pop("WEBHOOK_HOST", None)  # the default bind address, as a user runs it
        return env

    def start(self, *, healthy: bool = True, timeout_s: float = 60) -> None:
        """Start it and wait until it answers ``/health`` (200 when ``healthy``, else any
        answer: a receiver that cannot reach Kafka still serves)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [ARBITRAGE, "webhook", "--port", str(self.port)],
                env=self.env(),
                cwd=self.log_path.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        status = None
        while status != 200 and (healthy or status is None):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the webhook receiver exited: {self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"/health answered {status} for {timeout_s} s: {self.tail()}")
            try:
                status = httpx.get(f"{self.base}/health", timeout=5).status_code
            except httpx.HTTPError:
                status = None
            if status != 200:
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        stop_group(self.proc.pid, timeout_s=30)
        self.proc.wait(10)

    def kill(self) -> None:
        """``kill -9`` the receiver (and anything it started): it answers nothing any more."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)
