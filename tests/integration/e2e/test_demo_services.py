"""`devtools.demo`: child-process lifecycle, isolation, and `arbitrage demo` stopping on Ctrl-C
exactly what it started."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from app.settings import Settings
from devtools.demo import ARBITRAGE, DemoError, DemoServices, ServiceProcess, isolated_settings
from devtools.stack import StackManager
from tests.session_resources import Owned, delete_owned_sync, resource_name


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _shell(tmp_path: Path, script: str, ready: bool = True) -> ServiceProcess:
    return ServiceProcess(
        name="sh",
        argv=["/bin/sh", "-c", script],
        env=dict(os.environ),
        log_path=tmp_path / "logs" / "sh.log",
        ready=lambda: ready,
    )


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    service = _shell(tmp_path, f"sleep 300 & echo $! > {pid_file}; wait")
    service.start()
    service.wait_ready(5)
    deadline = time.monotonic() + 5
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    assert _pid_alive(grandchild)
    service.stop()
    assert not service.alive()
    deadline = time.monotonic() + 5
    while _pid_alive(grandchild):
        assert time.monotonic() < deadline, "the grandchild survived"
        time.sleep(0.05)


def test_a_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    service = _shell(tmp_path, "trap '' TERM; while true; do sleep 0.1; done")
    service.start()
    time.sleep(0.3)
    started = time.monotonic()
    service.stop(timeout_s=1)
    assert not service.alive()
    assert service.exit_code() == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_a_child_that_dies_while_starting_is_reported_with_its_log(tmp_path: Path) -> None:
    service = _shell(tmp_path, "echo 'boom: port taken' >&2; exit 3", ready=False)
    service.start()
    with pytest.raises(DemoError, match=r"exited with code 3 while starting(.|\n)*boom"):
        service.wait_ready(10)


def test_a_child_that_never_gets_healthy_times_out(tmp_path: Path) -> None:
    service = _shell(tmp_path, "sleep 30", ready=False)
    service.start()
    try:
        with pytest.raises(DemoError, match="not healthy after 1s"):
            service.wait_ready(1)
    finally:
        service.stop()


def test_isolated_settings_and_the_child_environment(settings: Settings, tmp_path: Path) -> None:
    a = isolated_settings(settings, "demoa", tmp_path / "a")
    b = isolated_settings(settings, "demob", tmp_path / "b")
    assert a.topic("keepa.products") == "demoa.keepa.products"
    assert a.index("opportunities") == "demoa-opportunities"
    assert a.faust_app_id != b.faust_app_id
    assert len({a.api_port, a.dashboard_port, a.faust_web_port, b.api_port}) == 4
    assert a.api_url == f"http://127.0.0.1:{a.api_port}"

    env = DemoServices(a, run_dir=tmp_path, extra_env={"EXTRA": "1"}).env()
    assert env["TOPIC_PREFIX"] == "demoa."
    assert env["ELASTICSEARCH_INDEX_PREFIX"] == "demoa-"
    assert env["FAUST_APP_ID"] == a.faust_app_id
    assert env["API_URL"] == a.api_url
    assert env["DASHBOARD_PORT"] == str(a.dashboard_port)
    assert env["FAUST_DATA_DIR"] == str(tmp_path / "a")
    assert env["EXTRA"] == "1"


def test_ports_in_use_are_refused_before_anything_starts(
    settings: Settings, tmp_path: Path
) -> None:
    isolated = isolated_settings(settings, "demoports", tmp_path / "faust")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", isolated.api_port))
        taken.listen()
        services = DemoServices(isolated, run_dir=tmp_path)
        with pytest.raises(DemoError, match=rf"API \(API_PORT\) 127.0.0.1:{isolated.api_port}"):
            services.start_services()
    assert services.services == {}


def test_arbitrage_demo_stops_everything_it_started_on_ctrl_c(
    stack: StackManager, settings: Settings, es: Elasticsearch, tmp_path: Path
) -> None:
    """The real command with a tiny sample, isolated; SIGINT as a terminal's Ctrl-C sends it.
    The stack was already up (session fixture), so it must stay up."""
    name = resource_name("demo")
    isolated = isolated_settings(settings, name, tmp_path / "faust", partitions=2)
    services = DemoServices(isolated, run_dir=tmp_path)
    env = services.env()
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [
                ARBITRAGE,
                "demo",
                "--asins",
                "5",
                "--steps",
                "2",
                "--rate",
                "50",
                "--run-dir",
                str(tmp_path / "run"),
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            # As when started in the background by a shell: SIGINT inherited as ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    try:
        deadline = time.monotonic() + 240
        while "press Ctrl-C" not in out.read_text(errors="replace"):
            assert demo.poll() is None, out.read_text(errors="replace")
            assert time.monotonic() < deadline, out.read_text(errors="replace")
            time.sleep(0.5)
        text = out.read_text()
        assert f"http://127.0.0.1:{isolated.dashboard_port}" in text
        assert f"{isolated.api_url}/docs" in text
        pids = [int(pid) for pid in re.findall(r": healthy \(pid (\d+)\)", text)]
        assert len(pids) == 4  # worker, api, dashboard, replay
        assert httpx.get(f"{isolated.api_url}/health", timeout=5).status_code == 200

        demo.send_signal(signal.SIGINT)
        assert demo.wait(90) == 0
    finally:
        if demo.poll() is None:  # an assertion failed: still let it stop its children
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(90)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait(10)
        delete_owned_sync(isolated.kafka_bootstrap_servers, es, Owned.of(isolated))
    assert "stopped." in out.read_text()
    assert not any(_pid_alive(pid) for pid in pids)
    assert stack.is_ready(), "the demo stopped a stack it did not start"
