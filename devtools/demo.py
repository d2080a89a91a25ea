"""`arbitrage demo` (`make demo`): the whole system on one machine, as child processes.

:class:`DemoServices` starts the local stack (unless it is already up), a Faust worker, the
REST API and the Streamlit dashboard, each as ``arbitrage <command>`` with its log under
``<run dir>/logs/``, waits until each answers its health check, then writes a synthetic
sample and replays it (``arbitrage replay --shift-time --after-topic --realtime --loop``):
the first pass (the sample's history, ending now) at once, then on at the pace of the clock, so
prices keep drifting and event time stays with wall-clock time. Stopping ends exactly what it
started: the children (by process group) and the stack components only when this run started
them.

Running the demo again on the same stack works: ``--after-topic`` starts the new replay one
step after the newest event already on ``keepa.products`` when that is later than now (the
worker's tables ignore an older observation).

The end-to-end test drives the same class with isolated settings
(:func:`isolated_settings`: unique topic/index prefixes, consumer group, ports), so the demo
and the test cannot drift apart.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType, TracebackType
from typing import Annotated, Any

import httpx
import typer

from app.settings import Settings, get_settings
from devtools.isolation import ARBITRAGE, child_env, isolated_settings, port_in_use
from devtools.stack.processes import stop_group

__all__ = [
    "DemoError",
    "DemoServices",
    "ServiceProcess",
    "api_healthy",
    "demo_command",
    "isolated_settings",
]


class DemoError(RuntimeError):
    """A service did not start, or died."""


def _get(url: str, timeout_s: float = 2.0) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError:
        return None


def api_healthy(api_url: str) -> bool:
    """True once the REST API at ``api_url`` answers ``/health`` with status ``ok``."""
    response = _get(f"{api_url.rstrip('/')}/health", timeout_s=5)
    if response is None or response.status_code != 200:
        return False
    try:
        return bool(response.json().get("status") == "ok")
    except ValueError:
        return False


@dataclass
class ServiceProcess:
    """One child process: started in its own session (so a terminal's Ctrl-C reaches only
    us, and we stop its whole process group), output appended to ``log_path``."""

    name: str
    argv: list[str]
    env: Mapping[str, str]
    log_path: Path
    ready: Callable[[], bool]
    """The health check: True once the service does its job."""
    url: str | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        if self.alive():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- {datetime.now(UTC).isoformat()} starting {self.name}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv,
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc is None:
                raise DemoError(f"{self.name} was not started")
            if self.proc.poll() is not None:
                raise DemoError(
                    f"{self.name} exited with code {self.proc.returncode} while starting; "
                    f"log {self.log_path}:\n{self.tail()}"
                )
            if self.ready():
                return
            if time.monotonic() > deadline:
                raise DemoError(
                    f"{self.name} not healthy after {timeout_s:g}s; log {self.log_path}:\n"
                    f"{self.tail()}"
                )
            time.sleep(0.5)

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM to the process group, SIGKILL after ``timeout_s``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        stop_group(self.proc.pid, timeout_s=timeout_s)
        self.proc.wait(10)

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class DemoServices:
    """The stack, a worker, the API, the dashboard and (optionally) a replay, started and
    stopped as one unit. Usable as a context manager (``stop`` on exit)."""

    def __init__(
        self,
        settings: Settings,
        *,
        run_dir: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.run_dir = run_dir or settings.stack_dir / "demo"
        self.log_dir = self.run_dir / "logs"
        self.extra_env = dict(extra_env or {})
        self.echo = echo or (lambda _message: None)
        self.stack_started: list[str] = []
        self.services: dict[str, ServiceProcess] = {}

    # --- addresses -------------------------------------------------------------------------

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.dashboard_port}"

    @property
    def api_url(self) -> str:
        return self.settings.api_url.rstrip("/")

    @property
    def worker_stats_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.faust_web_port}/arbitrage/stats/"

    def urls(self) -> dict[str, str]:
        return {
            "dashboard": self.dashboard_url,
            "API docs": f"{self.api_url}/docs",
            "API": f"{self.api_url}/opportunities",
            "worker stats": self.worker_stats_url,
        }

    def env(self) -> dict[str, str]:
        """The children's environment: ours, with every setting that places them pinned."""
        return child_env(self.settings, self.extra_env)

    # --- health checks ---------------------------------------------------------------------

    def worker_ready(self) -> bool:
        response = _get(self.worker_stats_url)
        if response is None or response.status_code != 200:
            return False
        try:
            stats: dict[str, Any] = response.json()
        except ValueError:
            return False
        source = self.settings.topic("keepa.products") + ":"
        return any(str(p).startswith(source) for p in stats.get("assigned_partitions", []))

    def api_ready(self) -> bool:
        return api_healthy(self.api_url)

    def dashboard_ready(self) -> bool:
        response = _get(f"{self.dashboard_url}/_stcore/health")
        return response is not None and response.status_code == 200

    # --- lifecycle -------------------------------------------------------------------------

    def start_stack(self) -> list[str]:
        """``arbitrage stack up``; remembers what it started (only that is stopped later)."""
        from devtools.stack import StackError, StackManager
        from devtools.stack.artifacts import ArtifactError
        from devtools.stack.jdk import JdkNotFoundError

        self.echo("starting the local stack (Kafka, Elasticsearch) if needed ...")
        try:
            self.stack_started = StackManager(self.settings).up()
        except (StackError, ArtifactError, JdkNotFoundError) as exc:
            raise DemoError(f"the local stack did not start: {exc}") from exc
        self.echo(
            f"stack: started {', '.join(self.stack_started)}"
            if self.stack_started
            else "stack: already up"
        )
        return self.stack_started

    def _service(
        self, name: str, argv: list[str], ready: Callable[[], bool], url: str | None = None
    ) -> ServiceProcess:
        service = ServiceProcess(
            name=name,
            argv=argv,
            env=self.env(),
            log_path=self.log_dir / f"{name}.log",
            ready=ready,
            url=url,
        )
        self.services[name] = service
        return service

    def check_ports(self) -> None:
        """Fail early, and clearly, when a port we need is taken (e.g. an API already runs)."""
        s = self.settings
        wanted = {
            "worker web (FAUST_WEB_PORT)": (s.faust_web_host, s.faust_web_port),
            "API (API_PORT)": (s.api_host, s.api_port),
            "dashboard (DASHBOARD_PORT)": ("127.0.0.1", s.dashboard_port),
        }
        taken = [
            f"{what} {host}:{port}"
            for what, (host, port) in wanted.items()
            if port_in_use("127.0.0.1" if host in ("0.0.0.0", "") else host, port)  # noqa: S104
        ]
        if taken:
            raise DemoError(
                "already in use: "
                + ", ".join(taken)
                + " (stop what runs there, or choose other ports via the environment)"
            )

    def start_services(self) -> None:
        """Start the worker, the API and the dashboard (concurrently; see wait_healthy)."""
        s = self.settings
        self.check_ports()
        s.faust_data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the leaf
        self._service(
            "worker", [ARBITRAGE, "worker", "--loglevel", "info"], self.worker_ready
        ).start()
        self._service(
            "api",
            [ARBITRAGE, "api", "--host", s.api_host, "--port", str(s.api_port)],
            self.api_ready,
            url=self.api_url,
        ).start()
        self._service(
            "dashboard",
            [ARBITRAGE, "dashboard", "--host", "127.0.0.1", "--port", str(s.dashboard_port)],
            self.dashboard_ready,
            url=self.dashboard_url,
        ).start()

    def wait_healthy(self, timeout_s: float = 120) -> None:
        """Wait until every started service passes its health check (worker first: it
        creates the topics and indices the API checks)."""
        deadline = time.monotonic() + timeout_s
        for service in self.services.values():
            self.echo(f"waiting for {service.name} ...")
            service.wait_ready(max(1.0, deadline - time.monotonic()))
            self.echo(f"{service.name}: healthy (pid {service.pid})")

    def start(self, *, stack: bool = True, timeout_s: float = 120) -> None:
        if stack:
            self.start_stack()
        self.start_services()
        self.wait_healthy(timeout_s)

    def write_sample(
        self,
        *,
        asins: int,
        seed: int,
        steps: int,
        step_minutes: int,
        path: Path | None = None,
    ) -> Path:
        """A synthetic sample (``devtools.sample``) whose last step is now."""
        from devtools.sample.generator import generate_sample, write_jsonl

        path = path or self.run_dir / "sample.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        start = datetime.now(UTC) - timedelta(minutes=max(steps - 1, 0) * step_minutes)
        self.echo(f"generating a sample of {asins} ASINs x 5 markets x {steps} steps ...")
        count = write_jsonl(
            generate_sample(asins, seed=seed, start=start, steps=steps, step_minutes=step_minutes),
            path,
        )
        self.echo(f"sample: {count} envelopes in {path}")
        return path

    def start_replay(self, path: Path, *, rate: float, loop: bool = True) -> ServiceProcess:
        """``arbitrage replay FILE --rate N --shift-time --after-topic --realtime [--loop]``
        as a child (alive = healthy). ``--shift-time`` makes the sample end now,
        ``--after-topic`` makes it start after the newest event already on the topic when that
        is later (a previous demo run's); each loop pass moves it on by its span, and
        ``--realtime`` plays the passes after the first at the pace of the clock, so event
        time does not run ahead of wall-clock time."""
        argv = [
            ARBITRAGE,
            "replay",
            str(path),
            "--rate",
            f"{rate:g}",
            "--shift-time",
            "--after-topic",
            "--realtime",
        ]
        if loop:
            argv.append("--loop")
        started = time.monotonic()

        def running_a_while() -> bool:
            service = self.services["replay"]
            return service.alive() and time.monotonic() - started > 3

        service = self._service("replay", argv, running_a_while)
        service.start()
        return service

    def dead(self) -> list[ServiceProcess]:
        """Services that were started and have exited since."""
        return [s for s in self.services.values() if s.proc is not None and not s.alive()]

    def stop(self) -> None:
        """Stop every child (reverse start order), then the stack components we started."""
        for service in reversed(list(self.services.values())):
            if service.alive():
                self.echo(f"stopping {service.name} (pid {service.pid}) ...")
            service.stop()
        if self.stack_started:
            from devtools.stack import StackManager

            self.echo(f"stopping the stack components we started: {self.stack_started}")
            StackManager(self.settings).down(self.stack_started)
            self.stack_started = []

    def __enter__(self) -> DemoServices:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def demo_command(
    asins: int = typer.Option(300, min=1, help="Synthetic ASINs in the sample."),
    seed: int = typer.Option(7, help="Seed of the sample (same seed = same sample)."),
    steps: int = typer.Option(12, min=1, help="Observations per ASIN and market."),
    step_minutes: int = typer.Option(
        1, min=1, help="Minutes between observations (the live passes play one step a step)."
    ),
    rate: float = typer.Option(200.0, min=1, help="Replay rate, envelopes per second."),
    loop: bool = typer.Option(True, help="Replay the sample over and over (live drift)."),
    timeout: float = typer.Option(180.0, help="Seconds to wait for each service."),
    run_dir: Annotated[
        Path | None, typer.Option(help="Sample and logs/ go here (default: STACK_DIR/demo).")
    ] = None,
) -> None:
    """Start the stack, a worker, the API and the dashboard, replay a sample, print the URLs.

    Ctrl-C stops everything this command started (the stack only if it was not up before).
    """
    settings = get_settings()
    services = DemoServices(settings, run_dir=run_dir, echo=typer.echo)
    # Explicit for SIGINT too: a process started in the background inherits it ignored.
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    code = 0
    try:
        services.start_stack()
        services.start_services()
        services.wait_healthy(timeout)
        sample = services.write_sample(
            asins=asins, seed=seed, steps=steps, step_minutes=step_minutes
        )
        replay = services.start_replay(sample, rate=rate, loop=loop)
        replay.wait_ready(30)
        typer.echo(f"replay: healthy (pid {replay.pid}), {rate:g} envelopes/s")
        typer.echo("")
        for name, url in services.urls().items():
            typer.echo(f"  {name:<13} {url}")
        typer.echo(f"  {'logs':<13} {services.log_dir}")
        typer.echo("\nReplaying the sample; press Ctrl-C to stop everything.")
        while True:
            dead = [s for s in services.dead() if not (s.name == "replay" and not loop)]
            if dead:
                for service in dead:
                    typer.echo(
                        f"error: {service.name} exited with code {service.exit_code()}; "
                        f"log {service.log_path}:\n{service.tail()}",
                        err=True,
                    )
                code = 1
                break
            time.sleep(1)
    except KeyboardInterrupt:
        typer.echo("\nstopping ...")
    except DemoError as exc:
        typer.echo(f"error: {exc}", err=True)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        services.stop()
        typer.echo("stopped.")
    raise typer.Exit(code)
