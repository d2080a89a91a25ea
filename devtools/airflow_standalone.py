"""``make airflow`` / ``make airflow-stop``: ``airflow standalone`` for this repository, started
and stopped as a whole. Runs with the Airflow virtualenv's Python (``.venv-airflow``).

Why not ``.venv-airflow/bin/airflow standalone`` as it is: standalone starts its components
(scheduler, dag-processor, api-server, triggerer) as a plain ``airflow`` found on ``PATH``, so
without the virtualenv's ``bin`` on ``PATH`` the four threads die with ``FileNotFoundError``
and the parent idles; and a SIGTERM kills only the parent, leaving the components and the
LocalExecutor's workers running. Here:

* the environment is complete: ``PATH`` (the virtualenv's ``bin`` first), ``AIRFLOW_HOME``
  (default ``<STACK_DIR>/airflow``), the DAGs folder, ``PYTHONPATH`` (the repository root),
  no example DAGs, and a size for a 2-core machine (:data:`SIZING`). A variable already set
  in the environment wins;
* ``airflow standalone`` runs in a session of its own, whose leader's pid (and start time)
  is in ``$AIRFLOW_HOME/standalone.pid``. Ctrl-C, SIGTERM or SIGHUP to this launcher, or
  ``stop`` from anywhere, stops that whole session (every process group in it: the task
  runners have their own), SIGKILL after a grace period.

The admin password is generated at the first start, printed once, and kept in
``$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated`` (Airflow 3's simple auth
manager; user ``admin``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Final

from devtools.stack.processes import PidFile, session_pids, stop_session

REPO: Final = Path(__file__).resolve().parents[1]

#: Sized for 2 cores: at most 4 task instances at once (the LocalExecutor starts that many
#: worker processes, 32 by default), one DAG-parsing process, one API server worker.
SIZING: Final[Mapping[str, str]] = {
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__API__WORKERS": "1",
}
DEFAULT_PORT: Final = 8080
PID_FILE: Final = "standalone.pid"
PASSWORD_FILE: Final = "simple_auth_manager_passwords.json.generated"  # noqa: S105 - a name
STOP_TIMEOUT_S: Final = 45.0
"""How long the components get to stop on SIGTERM before they are killed."""


def default_home(environ: Mapping[str, str]) -> Path:
    """``AIRFLOW_HOME`` if set, else ``airflow`` in the stack directory (``STACK_DIR``)."""
    if environ.get("AIRFLOW_HOME"):
        return Path(environ["AIRFLOW_HOME"])
    stack = environ.get("STACK_DIR")
    return (Path(stack) if stack else REPO / ".stack") / "airflow"


def airflow_env(environ: Mapping[str, str], *, venv_bin: Path, home: Path) -> dict[str, str]:
    """The environment of ``airflow standalone`` (what ``environ`` sets wins, but ``PATH``
    always starts with ``venv_bin`` and ``PYTHONPATH`` with the repository root)."""
    env = dict(environ)
    env["PATH"] = os.pathsep.join([str(venv_bin), *_entries(env.get("PATH"), str(venv_bin))])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *_entries(env.get("PYTHONPATH"), str(REPO))])
    env["AIRFLOW_HOME"] = str(home)
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    for name, value in SIZING.items():
        env.setdefault(name, value)
    env.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    port = env.setdefault("AIRFLOW__API__PORT", str(DEFAULT_PORT))
    # Task processes reach the API server here; Airflow's default assumes port 8080.
    env.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://127.0.0.1:{port}/execution/")
    return env


def _say(text: str, *, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def _entries(value: str | None, without: str) -> list[str]:
    return [p for p in (value or "").split(os.pathsep) if p and p != without]


class _Stop(Exception):  # noqa: N818 - a request to stop, not an error
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run(env: Mapping[str, str], *, venv_bin: Path, stop_timeout_s: float = STOP_TIMEOUT_S) -> int:
    """Run ``airflow standalone`` in its own session until it exits or we are signalled; then
    stop whatever is left of the session. The exit status (128 + signal when signalled)."""
    home = Path(env["AIRFLOW_HOME"])
    pid_file = PidFile(home / PID_FILE)
    running = pid_file.running_pid()
    if running is not None:
        _say(
            f"airflow standalone is already running for AIRFLOW_HOME={home} (session {running});"
            " stop it with `make airflow-stop`",
            err=True,
        )
        return 1
    home.mkdir(parents=True, exist_ok=True)
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _raise_stop)
    proc: subprocess.Popen[bytes] | None = None
    status = 0
    try:
        proc = subprocess.Popen(
            [str(venv_bin / "airflow"), "standalone"],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        pid_file.write(proc.pid)
        _say(
            f"airflow standalone: session {proc.pid}, AIRFLOW_HOME={home}, "
            f"UI http://{env['AIRFLOW__API__HOST']}:{env['AIRFLOW__API__PORT']} (user admin, "
            f"password in {home / PASSWORD_FILE}); Ctrl-C or `make airflow-stop` stops it"
        )
        code = proc.wait()
        status = 128 - code if code < 0 else code  # killed by a signal: 128 + its number
        _say(f"airflow standalone exited with status {status}", err=True)
    except _Stop as stop:
        status = 128 + stop.signum
        _say(f"{stop}: stopping airflow standalone", err=True)
    finally:
        for signum in _STOP_SIGNALS:  # a second Ctrl-C must not cut the stop short
            signal.signal(signum, signal.SIG_IGN)
        if proc is not None:
            stop_session(proc.pid, timeout_s=stop_timeout_s)
            proc.wait()
            pid_file.path.unlink(missing_ok=True)
    return status


def stop(home: Path, *, timeout_s: float = STOP_TIMEOUT_S) -> int:
    """Stop the standalone session recorded in ``home``; 0 also when none is running."""
    pid_file = PidFile(home / PID_FILE)
    entry = pid_file.read()
    if entry is None:
        _say(f"no airflow standalone recorded in {home / PID_FILE}")
        return 0
    sid = entry[0]
    # The leader may be gone while its session lives on; a reused pid is a different leader.
    if pid_file.running_pid() is None and (sid in session_pids(sid) or not session_pids(sid)):
        _say(f"airflow standalone of {home} is not running")
        pid_file.path.unlink(missing_ok=True)
        return 0
    count = len(session_pids(sid))
    _say(f"stopping airflow standalone (session {sid}, {count} processes)")
    stop_session(sid, timeout_s=timeout_s)
    pid_file.path.unlink(missing_ok=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.airflow_standalone", description=__doc__
    )
    parser.add_argument("command", choices=["run", "stop", "env"])
    args = parser.parse_args(argv)
    venv_bin = Path(sys.executable).parent
    home = default_home(os.environ)
    env = airflow_env(os.environ, venv_bin=venv_bin, home=home)
    if args.command == "env":
        for name in sorted(env):
            if name.startswith("AIRFLOW") or name in {"PATH", "PYTHONPATH"}:
                _say(f"{name}={env[name]}")
        return 0
    if args.command == "stop":
        return stop(home)
    if not (venv_bin / "airflow").exists():
        _say(f"no airflow in {venv_bin}: run this with .venv-airflow/bin/python", err=True)
        return 1
    return run(env, venv_bin=venv_bin)


if __name__ == "__main__":
    raise SystemExit(main())
