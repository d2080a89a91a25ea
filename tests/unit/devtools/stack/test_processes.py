from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from devtools.stack.processes import (
    PidFile,
    _group_alive,
    session_pids,
    spawn,
    stop_group,
    stop_session,
)


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


def test_a_session_is_stopped_across_its_process_groups(tmp_path: Path) -> None:
    """A grandchild in a process group of its own (as Airflow's task runners are) is out of
    reach of the group's signal, but not of the session's; one ignoring SIGTERM is killed."""
    ready = tmp_path / "ignoring"
    code = (
        "import os, signal, subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c', 'import os, time; os.setpgid(0, 0); "
        "time.sleep(60)']);"
        "subprocess.Popen([sys.executable, '-c', 'import pathlib, signal, sys, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); pathlib.Path(sys.argv[1]).touch(); "
        "time.sleep(60)', sys.argv[1]]);"
        "time.sleep(60)"
    )
    proc = spawn(
        [sys.executable, "-c", code, str(ready)],
        log_path=tmp_path / "x.log",
        env={},
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the grandchildren ran their first lines
        members = session_pids(proc.pid)
        if ready.exists() and len({os.getpgid(p) for p in members}) == 2:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"session {proc.pid}: {session_pids(proc.pid)}")
    assert len(members) == 3
    started = time.monotonic()
    stop_session(proc.pid, timeout_s=2)
    proc.wait(5)
    assert session_pids(proc.pid) == []
    assert time.monotonic() - started < 10
