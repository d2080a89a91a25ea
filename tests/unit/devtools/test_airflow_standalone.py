"""The ``make airflow`` launcher (devtools/airflow_standalone.py): its environment, and that it
stops the whole session of what it started. The real ``airflow standalone`` runs in
tests/airflow/test_standalone_scheduler.py; here a small process tree stands in for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.airflow_standalone import (
    PID_FILE,
    REPO,
    SIZING,
    airflow_env,
    default_home,
    stop,
)
from devtools.stack.processes import session_pids, stop_session

# Stands in for `airflow standalone`: a child that moves to a process group of its own (as
# Airflow's task runners do) and one that ignores SIGTERM; then it waits.
FAKE_AIRFLOW = """#!/bin/sh
"$PYTHON" -c 'import os, time; os.setpgid(0, 0); time.sleep(120)' &
"$PYTHON" -c 'import os, pathlib, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path(os.environ["AIRFLOW_HOME"], "started").touch()
time.sleep(120)' &
wait
"""

LAUNCH = (
    "import os, sys; from pathlib import Path; from devtools.airflow_standalone import run; "
    "sys.exit(run(os.environ, venv_bin=Path(sys.argv[1]), stop_timeout_s=2))"
)


def test_environment_puts_the_venv_first_and_fills_the_defaults(tmp_path: Path) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    base = {"PATH": f"/usr/bin{os.pathsep}{venv_bin}", "PYTHONPATH": "/elsewhere", "HOME": "/h"}
    env = airflow_env(base, venv_bin=venv_bin, home=tmp_path / "home")
    assert env["PATH"].split(os.pathsep) == [str(venv_bin), "/usr/bin"]
    assert env["PYTHONPATH"].split(os.pathsep) == [str(REPO), "/elsewhere"]
    assert env["AIRFLOW_HOME"] == str(tmp_path / "home")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO / "dags")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert {k: env[k] for k in SIZING} == dict(SIZING)
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8080/execution/"
    assert env["HOME"] == "/h"


def test_environment_keeps_what_the_user_set(tmp_path: Path) -> None:
    base = {"AIRFLOW__CORE__PARALLELISM": "8", "AIRFLOW__API__PORT": "9090"}
    env = airflow_env(base, venv_bin=tmp_path, home=tmp_path)
    assert env["AIRFLOW__CORE__PARALLELISM"] == "8"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:9090/execution/"


def test_default_home(tmp_path: Path) -> None:
    assert default_home({"AIRFLOW_HOME": "/a", "STACK_DIR": "/s"}) == Path("/a")
    assert default_home({"STACK_DIR": "/s"}) == Path("/s/airflow")
    assert default_home({}) == REPO / ".stack" / "airflow"


@pytest.fixture
def fake_venv(tmp_path: Path) -> Path:
    venv_bin = tmp_path / "bin"
    venv_bin.mkdir()
    airflow = venv_bin / "airflow"
    airflow.write_text(FAKE_AIRFLOW)
    airflow.chmod(0o755)
    return venv_bin


@pytest.fixture
def launcher(fake_venv: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """The launcher running the fake, in a session of its own; its AIRFLOW_HOME."""
    home = tmp_path / "home"
    env = airflow_env({**os.environ, "PYTHON": sys.executable}, venv_bin=fake_venv, home=home)
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(fake_venv)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        # Until both children run: one ignores SIGTERM, the other has its own group.
        while not (home / "started").exists() or len(_groups(home)) < 2:
            assert proc.poll() is None, "the launcher exited"
            assert time.monotonic() < deadline, "the fake airflow did not start"
            time.sleep(0.05)
        yield proc, home
    finally:
        stop_session(proc.pid, timeout_s=2)
        proc.wait(10)


def _groups(home: Path) -> set[int]:
    """The process groups of the standalone session recorded in ``home``."""
    try:
        sid = int((home / PID_FILE).read_text().split()[0])
    except (FileNotFoundError, ValueError):
        return set()
    groups = set()
    for pid in session_pids(sid):
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            continue
    return groups


def test_sigterm_to_the_launcher_stops_every_process_it_started(
    launcher: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, home = launcher
    sid = int((home / PID_FILE).read_text().split()[0])
    assert sid != proc.pid  # the standalone has a session of its own
    assert len(session_pids(sid)) == 3
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 128 + signal.SIGTERM
    assert session_pids(sid) == []
    assert not (home / PID_FILE).exists()


def test_stop_from_elsewhere_and_a_second_start_is_refused(
    launcher: tuple[subprocess.Popen[bytes], Path], fake_venv: Path
) -> None:
    proc, home = launcher
    sid = int((home / PID_FILE).read_text().split()[0])
    second = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(fake_venv)],
        env={**os.environ, **airflow_env(os.environ, venv_bin=fake_venv, home=home)},
        cwd=REPO,
        capture_output=True,
        timeout=30,
    )
    assert second.returncode == 1
    assert b"already running" in second.stderr
    assert stop(home, timeout_s=2) == 0
    assert session_pids(sid) == []
    assert proc.wait(20) == 128 + signal.SIGTERM  # the standalone was stopped under it
    assert stop(home) == 0  # nothing left: nothing to do
