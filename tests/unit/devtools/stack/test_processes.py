from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devtools.stack.processes import PidFile, _group_alive, spawn, stop_group


def test_spawned_group_is_tracked_and_stopped(tmp_path: Path) -> None:
    pidfile = PidFile(tmp_path / "x.pid")
    code = (
        "import subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "time.sleep(60)"
    )
    proc = spawn([sys.executable, "-c", code], log_path=tmp_path / "x.log", env={}, cwd=tmp_path)
    pidfile.write(proc.pid)
    assert pidfile.running_pid() == proc.pid
    stop_group(proc.pid, timeout_s=10)
    proc.wait(5)
    assert not _group_alive(proc.pid)  # the grandchild went too
    assert pidfile.running_pid() is None
    assert not pidfile.path.exists()  # a stale pid file is cleaned up


def test_pid_reuse_is_not_mistaken_for_ours(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pidfile = PidFile(tmp_path / "x.pid")
        pidfile.path.write_text(f"{other.pid} 1\n")  # same pid, different start time
        assert pidfile.running_pid() is None
    finally:
        other.kill()
        other.wait()
