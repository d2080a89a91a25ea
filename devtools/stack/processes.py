"""Processes we start ourselves, tracked by pid file so `down` stops only what we started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class PidFile:
    """A pid file holding the pid and start time of a process group leader we started.

    The start time (from /proc) guards against pid reuse: a pid file left by a crash never
    makes us signal somebody else's process.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> tuple[int, int] | None:
        try:
            pid, started = self.path.read_text().split()
            return int(pid), int(started)
        except (FileNotFoundError, ValueError):
            return None

    def running_pid(self) -> int | None:
        """The pid when that process is alive and is ours; cleans up a stale pid file."""
        entry = self.read()
        if entry is None:
            return None
        pid, started = entry
        if _start_time(pid) == started:
            return pid
        self.path.unlink(missing_ok=True)
        return None

    def write(self, pid: int) -> None:
        started = _start_time(pid)
        if started is None:
            raise ProcessLookupError(pid)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid} {started}\n")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # After the ")" closing the command name: state ppid pgrp ... starttime is field 22.
    return stat.rsplit(")", 1)[-1].split()


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    if fields is None or fields[0] == "Z":
        return None
    return int(fields[19])


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached in its own session: it outlives us and is killed as a group."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            user=user,
            group=None if user is None else _primary_group(user),
        )


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def stop_group(pid: int, *, timeout_s: float = 60.0) -> None:
    """SIGTERM the process group led by ``pid``; SIGKILL it when it does not stop in time."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    while _group_alive(pid):
        time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        fields = _stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def session_pids(sid: int) -> list[int]:
    """The live processes of session ``sid``, whatever process group each of them is in."""
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        fields = _stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids


def stop_session(sid: int, *, timeout_s: float = 60.0) -> None:
    """SIGTERM every process of session ``sid``; SIGKILL what is left after ``timeout_s``.

    Unlike :func:`stop_group`, this also reaches processes that moved to a process group of
    their own inside the session (Airflow puts each task runner in one).
    """
    _signal_all(session_pids(sid), signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not session_pids(sid):
            return
        time.sleep(0.2)
    while pids := session_pids(sid):
        _signal_all(pids, signal.SIGKILL)
        time.sleep(0.1)


def _signal_all(pids: Sequence[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
