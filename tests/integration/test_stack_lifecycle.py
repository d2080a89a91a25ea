"""`down` stops exactly what `up` started: a private Kafka on other ports, in its own dir."""

from __future__ import annotations

from pathlib import Path

from app.settings import Settings
from devtools.stack.artifacts import ensure_distribution
from devtools.stack.components import Kafka
from devtools.stack.manager import StackManager
from devtools.stack.processes import _group_alive


def test_private_kafka_starts_stops_and_leaves_nothing(
    stack: StackManager, tmp_path: Path, settings: Settings
) -> None:
    dist = ensure_distribution(settings.stack_dir / "dist")  # cached by the session stack
    kafka = Kafka(tmp_path, dist, "127.0.0.1:19092", "256m", None)
    assert kafka.start() is True
    try:
        assert kafka.start() is False  # already running: no second process
        kafka.wait_ready(120)
        pid = kafka.pidfile.running_pid()
        assert pid is not None
        assert _group_alive(pid)
    finally:
        assert kafka.stop() is True
    assert not _group_alive(pid)
    assert kafka.pidfile.running_pid() is None
    assert kafka.stop() is False  # nothing of ours left to stop
    # The session's own stack is untouched.
    assert stack.is_ready()
