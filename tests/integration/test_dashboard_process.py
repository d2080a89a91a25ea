"""`arbitrage dashboard` as a user starts it: bound to 127.0.0.1 unless told otherwise,
answering docker-compose's healthcheck, and gone, children included, once it is sent SIGTERM
(or Ctrl-C) while a browser session is running its script."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from devtools.isolation import ARBITRAGE, free_port
from tests.compose_file import healthcheck_path
from tests.integration.proc import is_loopback, listening_addresses, session_members


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`arbitrage dashboard --port P` in its own session, with the default bind address and
    an API_URL where nothing listens (the page shows the API as unreachable and keeps
    refreshing). Whatever of that session is left at the end is killed."""
    port = free_port()
    env = {
        **os.environ,
        "API_URL": f"http://127.0.0.1:{free_port()}",
        "DASHBOARD_REFRESH_S": "1",
        "DASHBOARD_API_TIMEOUT_S": "1",
    }
    env.pop("DASHBOARD_HOST", None)
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [ARBITRAGE, "dashboard", "--port", str(port)],
            env=env,
            cwd=tmp_path,  # no .env of the developer's
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc, port, log
    finally:
        for pid, _ in session_members(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.wait(10)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the dashboard exited ({proc.returncode}):\n{_tail(log)}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the dashboard did not answer {url}:\n{_tail(log)}")


@contextmanager
def _browser_session(port: int) -> Iterator[None]:
    """What a browser tab does: open the websocket and ask for a run of the script; enters
    once the script has run once (its live part keeps rerunning on a timer)."""
    with connect(
        f"ws://127.0.0.1:{port}/_stcore/stream",
        subprotocols=[Subprotocol("streamlit")],
        origin=Origin(f"http://127.0.0.1:{port}"),
        open_timeout=10,
    ) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        ws.send(rerun.SerializeToString())
        kinds: list[str | None] = []
        deadline = time.monotonic() + 60
        while "script_finished" not in kinds:
            assert time.monotonic() < deadline, f"the script did not run: {kinds}"
            message = ForwardMsg()
            message.ParseFromString(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            kinds.append(message.WhichOneof("type"))
        assert "new_session" in kinds
        yield


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_arbitrage_dashboard_leaves_no_process_behind(
    dashboard: tuple[subprocess.Popen[bytes], int, Path], signum: signal.Signals
) -> None:
    proc, port, log = dashboard
    _wait_healthy(proc, f"http://127.0.0.1:{port}{healthcheck_path('dashboard')}", log)

    # Bound to loopback only (DASHBOARD_HOST defaults to 127.0.0.1).
    addresses = listening_addresses(port)
    assert addresses, f"nothing listens on {port}"
    assert all(is_loopback(a) for a in addresses), addresses

    with _browser_session(port):
        assert session_members(proc.pid), "the dashboard's session is empty while it runs"
        os.kill(proc.pid, signum)  # the `arbitrage dashboard` process, as a supervisor does
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`arbitrage dashboard` ignored {signum.name}:\n{_tail(log)}")
    deadline = time.monotonic() + 10
    while (left := session_members(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"left running after {signum.name}: {left}"
    assert listening_addresses(port) == set()
    assert proc.returncode == 0, f"exit code {proc.returncode}:\n{_tail(log)}"
