"""`make compose-test`: the real docker-compose.yml, run under Podman, checked end to end.

Steps (each timed on stdout):

1. Debian packages when missing (podman, runc, debootstrap, Chromium + driver).
2. A bookworm base image from ``debootstrap --variant=minbase`` (``podman import``), then the
   stand-ins of the images that cannot be pulled here (infra/compose/*/Containerfile), then the
   project's own images through podman-compose from the real Dockerfiles.
3. ``podman-compose up`` of every service (the webhook profile too), one dependency level at a
   time: podman 4.3 ignores ``condition: service_healthy`` and, without systemd, never runs a
   healthcheck by itself, so each container's own compose healthcheck is run here
   (``podman healthcheck run``) at its compose interval until podman reports it healthy.
4. A small synthetic sample replayed into the compose Kafka (``arbitrage replay`` inside the
   worker container), opportunities read from the API, the dashboard checked in headless
   Chromium to show them.
5. Down: containers, volumes and (unless ``--keep-images``) the images built here removed.

Podman's settings: infra/podman/containers.conf; the override: infra/compose/podman.override.yml.
The containers share one network namespace made here (loopback only), so the stack's ports never
meet the host's (the local stack uses the same ones); the checks of step 4 run in it as well
(``ip netns exec``, this module with ``--probe``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from app.settings import PROJECT_ROOT, Settings
from devtools.stack.artifacts import ArtifactError, ensure_distribution
from devtools.stack.jdk import JdkNotFoundError, find_java_home

PROJECT = "arbitrage-compose-test"
#: The network namespace of every container (podman.override.yml: network_mode ns:/run/netns/..).
NETNS = PROJECT
COMPOSE_FILES = (
    PROJECT_ROOT / "docker-compose.yml",
    PROJECT_ROOT / "infra/compose/podman.override.yml",
)
CONTAINERS_CONF = PROJECT_ROOT / "infra" / "podman" / "containers.conf"
STAND_INS = PROJECT_ROOT / "infra" / "compose"
WORK = PROJECT_ROOT / ".compose"
SCREENSHOT = PROJECT_ROOT / "artifacts" / "screenshots" / "compose_dashboard.png"
#: podman-compose from PyPI (the lock's ``compose`` dependency group), run by uv: Debian's 1.0.3
#: cannot merge an override's ``build``, leaves ``${VAR:-}`` unexpanded and joins
#: host-networked containers to a bridge network.
PODMAN_COMPOSE_GROUP = "compose"
BASE_IMAGE = "localhost/arbitrage-base:bookworm"
PYTHON_IMAGE = "localhost/arbitrage-python:3.11"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
#: Executables -> the Debian packages that bring them.
PACKAGES = {
    "podman": ("podman", "fuse-overlayfs", "uidmap"),
    "runc": ("runc",),
    "debootstrap": ("debootstrap",),
    "chromium": ("chromium",),
    "chromedriver": ("chromium-driver",),
}
CHROMIUM = "/usr/bin/chromium"
#: Where the sample goes in the worker container (the image's user owns its home).
IN_CONTAINER_SAMPLE = "/home/arbitrage/sample.jsonl"
CHROMEDRIVER = "/usr/bin/chromedriver"

T = TypeVar("T")


class ComposeTestError(RuntimeError):
    pass


# --- Pure helpers (tests/unit/devtools/test_compose_test.py) -------------------------------


def duration_s(value: str | int | float) -> float:
    """Seconds of a compose duration (``10s``, ``1m30s``, ``500ms``, or a number)."""
    if isinstance(value, int | float):
        return float(value)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    total, number, i = 0.0, "", 0
    while i < len(value):
        ch = value[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = value[i : i + 2] if value[i : i + 2] in ("ms", "us") else ch
        if not number or unit not in units:
            raise ValueError(f"not a compose duration: {value!r}")
        total += float(number) * units[unit]
        number, i = "", i + len(unit)
    if number:
        raise ValueError(f"not a compose duration (no unit): {value!r}")
    return total


def startup_levels(services: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """The services in dependency levels: each level depends only on earlier ones."""
    deps = {name: set(spec.get("depends_on") or ()) for name, spec in services.items()}
    unknown = {d for ds in deps.values() for d in ds} - set(deps)
    if unknown:
        raise ComposeTestError(f"depends_on names unknown services: {sorted(unknown)}")
    levels: list[list[str]] = []
    placed: set[str] = set()
    while len(placed) < len(deps):
        level = sorted(n for n, ds in deps.items() if n not in placed and ds <= placed)
        if not level:
            raise ComposeTestError(f"dependency cycle among {sorted(set(deps) - placed)}")
        levels.append(level)
        placed.update(level)
    return levels


# --- Running things ------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def run(
    argv: Sequence[str],
    *,
    log: Path | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; its output goes to ``log`` when given (named in the error)."""
    env = dict(env or _env())
    if log is None:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            proc = subprocess.run(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, check=False
            )
    if check and proc.returncode != 0:
        where = f"see {log}" if log else (proc.stderr or proc.stdout).strip()[-2000:]
        raise ComposeTestError(f"{' '.join(argv[:4])} ... exited {proc.returncode}: {where}")
    return proc


@contextmanager
def step(title: str, timings: dict[str, float]) -> Iterator[None]:
    print(f"==> {title}", flush=True)
    start = time.monotonic()
    try:
        yield
    finally:
        timings[title] = time.monotonic() - start
        print(f"    {title}: {timings[title]:.0f} s", flush=True)


def uv() -> list[str]:
    """uv itself: `uv run` names it in UV; else on PATH; else the module of python3."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def compose_argv(*args: str, env: Mapping[str, str]) -> list[str]:
    files = [arg for f in COMPOSE_FILES for arg in ("-f", str(f))]
    return [
        *uv(),
        "run",
        "--project",
        str(PROJECT_ROOT),
        "--frozen",
        "--group",
        PODMAN_COMPOSE_GROUP,
        "podman-compose",
        "-p",
        PROJECT,
        *files,
        *args,
    ]


def ensure_packages() -> None:
    missing = sorted(
        {pkg for exe, pkgs in PACKAGES.items() if shutil.which(exe) is None for pkg in pkgs}
    )
    if not missing:
        print("    all present")
        return
    print(f"    installing {' '.join(missing)}")
    run(["apt-get", "update", "-q"], log=WORK / "apt.log")
    run(
        ["apt-get", "install", "-y", "-q", *missing],
        log=WORK / "apt.log",
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def image_exists(name: str) -> bool:
    return run(["podman", "image", "exists", name], check=False).returncode == 0


def build_base() -> None:
    if image_exists(BASE_IMAGE):
        print(f"    {BASE_IMAGE} exists")
        return
    rootfs = WORK / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    run(
        ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), DEBIAN_MIRROR],
        log=WORK / "debootstrap.log",
    )
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(
        ["podman", "import", "-", BASE_IMAGE],
        stdin=tar.stdout,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    if imported.returncode != 0 or tar.returncode != 0:
        raise ComposeTestError(f"podman import of the base failed: {imported.stderr.strip()}")


def _context(name: str, extra: Mapping[str, Path]) -> Path:
    """A build context: infra/compose/NAME plus ``extra`` (name in the context -> source)."""
    ctx = WORK / "context" / name
    shutil.rmtree(ctx, ignore_errors=True)
    shutil.copytree(STAND_INS / name, ctx)
    for target, source in extra.items():
        if source.is_dir():
            shutil.copytree(source, ctx / target, symlinks=True)
        else:
            (ctx / target).mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, ctx / target)
    return ctx


def build_stand_ins(settings: Settings) -> dict[str, str]:
    """Build the stand-ins; their image names by stand-in."""
    override = yaml.safe_load(COMPOSE_FILES[1].read_text())["services"]
    try:
        dist = ensure_distribution(settings.stack_dir / "dist")
        jdk = find_java_home(21, settings.stack_es_java_home)
    except (ArtifactError, JdkNotFoundError) as exc:
        raise ComposeTestError(str(exc)) from exc
    # The machine's own extra CAs (an egress proxy re-signs TLS here): pip and uv need them.
    ca_dir = Path("/usr/local/share/ca-certificates")
    contexts = {
        PYTHON_IMAGE: _context("python", {"ca": ca_dir} if ca_dir.is_dir() else {}),
        override["kafka"]["image"]: _context("kafka", {"libs": dist.kafka_libs}),
        override["elasticsearch"]["image"]: _context(
            "elasticsearch",
            {
                "elasticsearch": dist.elasticsearch_home,
                "jdk": jdk,
            },
        ),
    }
    (contexts[PYTHON_IMAGE] / "ca").mkdir(exist_ok=True)
    for image, ctx in contexts.items():
        started = time.monotonic()
        run(
            [
                "podman",
                "build",
                "--network",
                "host",
                "--build-arg",
                f"BASE_IMAGE={BASE_IMAGE}",
                "-t",
                image,
                str(ctx),
            ],
            log=WORK / f"build-{ctx.name}.log",
        )
        print(f"    {image}: {time.monotonic() - started:.0f} s")
        shutil.rmtree(ctx, ignore_errors=True)
    return {ctx.name: image for image, ctx in contexts.items()}


def compose_services(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The merged configuration (both files, active profiles) as podman-compose sees it."""
    out = run(compose_argv("config", env=env), env=env).stdout
    services: dict[str, dict[str, Any]] = yaml.safe_load(out)["services"]
    return services


def container(service: str) -> str:
    names = run(
        [
            "podman",
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            f"label=io.podman.compose.project={PROJECT}",
            "--filter",
            f"label=com.docker.compose.service={service}",
        ]
    ).stdout.split()
    if len(names) != 1:
        raise ComposeTestError(f"expected one container of {service}, found {names}")
    return names[0]


def health(name: str) -> tuple[str, str]:
    """(state, health) of a container as podman reports them."""
    data = json.loads(run(["podman", "inspect", name]).stdout)[0]["State"]
    check = data.get("Health") or data.get("Healthcheck") or {}
    return str(data.get("Status", "?")), str(check.get("Status", "none"))


def wait_healthy(services: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> None:
    """Run each container's own healthcheck at its compose interval until podman reports it
    healthy; fail as soon as one is unhealthy (its retries used up) or has exited."""
    pending = {n: 0.0 for n in names}
    while pending:
        now = time.monotonic()
        for service, due in list(pending.items()):
            if now < due:
                continue
            name = container(service)
            run(["podman", "healthcheck", "run", name], check=False)
            state, status = health(name)
            if status == "healthy":
                print(f"    {service}: healthy", flush=True)
                del pending[service]
            elif status == "unhealthy" or state != "running":
                logs = run(["podman", "logs", "--tail", "40", name], check=False)
                raise ComposeTestError(
                    f"{service} is {state}/{status}; its last log lines:\n"
                    f"{logs.stdout}{logs.stderr}"
                )
            else:
                pending[service] = now + duration_s(services[service]["healthcheck"]["interval"])
        time.sleep(1.0)


def make_netns() -> None:
    """The namespace of the containers (a stale one from an interrupted run is replaced)."""
    run(["ip", "netns", "delete", NETNS], check=False)
    run(["ip", "netns", "add", NETNS])
    run(["ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up"])


def in_netns(argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
    run(["ip", "netns", "exec", NETNS, *argv], env=env, log=log)


def up(services: Mapping[str, Mapping[str, Any]], env: Mapping[str, str]) -> None:
    for level in startup_levels(services):
        run(
            compose_argv("up", "-d", "--no-deps", *level, env=env),
            log=WORK / f"up-{'-'.join(level)}.log",
            env=env,
        )
        wait_healthy(services, level)


def report(services: Mapping[str, Mapping[str, Any]]) -> None:
    print(f"    {'SERVICE':<15}{'STATE':<10}HEALTH")
    for service in sorted(services):
        try:
            state, status = health(container(service))
        except ComposeTestError:
            state, status = "absent", "-"
        print(f"    {service:<15}{state:<10}{status}")


def eventually(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise ComposeTestError(f"no {what} after {timeout_s:.0f} s")
        time.sleep(2.0)


def replay_sample(env: Mapping[str, str]) -> None:
    """A small synthetic sample (60 ASINs x 5 markets x 16 steps, the generator's fixed seed:
    4,800 envelopes that leave opportunities open; 20 x 8 left none), written here and
    replayed from inside the worker container (`kafka`, the advertised listener, resolves
    there)."""
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.jsonl"
        run(
            [
                str(Path(sys.executable).with_name("arbitrage")),
                "sample",
                str(sample),
                "--asins",
                "60",
                "--steps",
                "16",
            ],
            env=env,
        )
        worker = container("worker")
        run(["podman", "cp", str(sample), f"{worker}:{IN_CONTAINER_SAMPLE}"])
    run(
        ["podman", "exec", worker, "arbitrage", "replay", "--shift-time", IN_CONTAINER_SAMPLE],
        log=WORK / "replay.log",
    )


def open_opportunities(api: str) -> list[dict[str, Any]]:
    """The first page of ``GET /opportunities`` (open routes, best per ASIN)."""
    response = httpx.get(f"{api}/opportunities", params={"page_size": 20}, timeout=10)
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json().get("items") or []
    return items


def opportunities(api: str) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        try:
            return open_opportunities(api) or None
        except (httpx.HTTPError, ValueError):
            return None

    return eventually(probe, 180, "opportunity from the API")


def dashboard_shows(url: str, api: str) -> str:
    """Headless Chromium loads the dashboard until it shows an ASIN that the API lists as
    open at that moment (read again each time: the worker may close a route in between;
    Streamlit keeps the grid's cells in an accessible table). A screenshot is saved either
    way. The ASIN found."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = Options()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory() as profile:
        for arg in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={profile}",
            "--window-size=1600,1000",
        ):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.get(url)

            seen: set[str] = set()

            def probe() -> str | None:
                try:
                    text = driver.find_element(By.TAG_NAME, "body").get_attribute("innerHTML")
                    asins = [str(item["asin"]) for item in open_opportunities(api)]
                except (WebDriverException, httpx.HTTPError, ValueError):
                    return None
                seen.update(asins)
                return next((a for a in asins if a in (text or "")), None)

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            try:
                found = eventually(probe, 120, "open ASIN of the API on the dashboard")
            except ComposeTestError as exc:
                failed = SCREENSHOT.with_name("compose_dashboard_failed.png")
                driver.save_screenshot(str(failed))
                raise ComposeTestError(
                    f"{exc} (the API listed {sorted(seen)}; screenshot {failed})"
                ) from None
            time.sleep(2.0)  # let the grid finish drawing for the screenshot
            driver.save_screenshot(str(SCREENSHOT))
            return found
        finally:
            driver.quit()


def save_logs(services: Mapping[str, Mapping[str, Any]]) -> None:
    """Each container's log to .compose/logs/SERVICE.log (kept after `down`)."""
    logs = WORK / "logs"
    logs.mkdir(exist_ok=True)
    for service in services:
        with suppress(ComposeTestError):
            run(["podman", "logs", container(service)], log=logs / f"{service}.log", check=False)
    print(f"    container logs in {logs}")


def down(env: Mapping[str, str], images: Sequence[str]) -> None:
    """Containers and volumes of the project; then ``images`` (none with --keep-images)."""
    run(
        compose_argv("down", "-v", "-t", "10", env=env), log=WORK / "down.log", check=False, env=env
    )
    run(["ip", "netns", "delete", NETNS], check=False)
    if images:
        run(["podman", "rmi", "--force", "--ignore", *images], check=False)
        run(["podman", "image", "prune", "--force"], check=False)


def images_of(services: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every image of the stack: the base, the stand-in of python, the services' own."""
    return sorted({BASE_IMAGE, PYTHON_IMAGE, *(str(s["image"]) for s in services.values())})


def compose_env() -> dict[str, str]:
    """The variables docker-compose.yml asks for, fresh random secrets (never printed)."""
    return {
        **_env(),
        "API_TOKEN": secrets.token_urlsafe(32),
        "KEEPA_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "COMPOSE_PROFILES": "webhook",
    }


def worker_stats(settings: Settings) -> str:
    """What the worker says of itself (its assigned partitions and counters), for a failure."""
    url = f"http://127.0.0.1:{settings.faust_web_port}/arbitrage/stats/"
    try:
        stats = httpx.get(url, timeout=10).json()
    except (httpx.HTTPError, ValueError) as exc:
        return f"{url} did not answer ({exc})"
    return (
        f"{len(stats.get('assigned_partitions') or [])} assigned partitions, "
        f"counters {stats.get('counters')}, last error {stats.get('last_error')}"
    )


def can_run() -> str | None:
    """Why containers cannot run on this machine, or None: root (apt-get, podman, ip netns)
    and a network namespace of our own (``unshare --net``) are needed; podman and the rest
    are installed by the run itself."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("unshare") is None:
        return "no unshare(1) to test for network namespaces"
    if run(["unshare", "--net", "true"], check=False).returncode != 0:
        return "cannot make a network namespace (unshare --net failed)"
    if shutil.which("podman") is None and shutil.which("apt-get") is None:
        return "no podman, and no apt-get to install it"
    if not Path("/sys/fs/cgroup").is_dir():
        return "no cgroup file system"
    return None


def probe(settings: Settings) -> None:
    """Step 4's checks, run inside the namespace: opportunities from the API, then the
    dashboard showing one of them."""
    try:
        items = opportunities(f"http://127.0.0.1:{settings.api_port}")
    except ComposeTestError as exc:
        raise ComposeTestError(f"{exc}; the worker: {worker_stats(settings)}") from None
    asins = [str(item["asin"]) for item in items]
    print(f"    API: {len(items)} opportunities on the first page, e.g. {asins[0]}", flush=True)
    found = dashboard_shows(
        f"http://127.0.0.1:{settings.dashboard_port}", f"http://127.0.0.1:{settings.api_port}"
    )
    print(f"    dashboard shows {found}; screenshot {SCREENSHOT}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--keep-images",
        action="store_true",
        help="Keep the images for the next run (default: remove them).",
    )
    parser.add_argument(
        "--keep-up",
        action="store_true",
        help="Leave the stack running at the end, to look into it (then run again without).",
    )
    parser.add_argument(
        "--down",
        action="store_true",
        help="Only bring down (and remove the images of) a stack left by --keep-up.",
    )
    parser.add_argument(
        "--can-run",
        action="store_true",
        help="Only say whether this machine can run the test (exit 0) or why not (exit 3).",
    )
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.can_run:
        reason = can_run()
        print(
            "compose-test can run here"
            if reason is None
            else f"compose-test cannot run here: {reason}"
        )
        return 0 if reason is None else 3
    settings = Settings()
    if args.probe:
        try:
            probe(settings)
        except ComposeTestError as exc:
            print(f"compose-test FAILED: {exc}", file=sys.stderr)
            return 1
        return 0
    if os.geteuid() != 0:
        print("compose-test: needs root (apt-get, podman, ip netns)", file=sys.stderr)
        return 2
    if args.down:
        down(compose_env(), [] if args.keep_images else images_of(compose_services(_env())))
        return 0
    # SIGTERM (a CI time-out, kill) takes the same way out as Ctrl-C: through `down`.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    WORK.mkdir(exist_ok=True)
    env = compose_env()
    timings: dict[str, float] = {}
    built: list[str] = []
    services: dict[str, dict[str, Any]] = {}
    try:
        with step("packages", timings):
            ensure_packages()
        with step("base image", timings):
            build_base()
        built.append(BASE_IMAGE)
        with step("stand-in images", timings):
            built.extend(build_stand_ins(settings).values())
        services = compose_services(env)
        with step("project images (podman-compose build)", timings):
            run(compose_argv("build", env=env), log=WORK / "build-project.log", env=env)
        built.extend(sorted(set(images_of(services)) - set(built)))
        with step("up, every healthcheck healthy", timings):
            make_netns()
            up(services, env)
            report(services)
        with step("replay a sample", timings):
            replay_sample(env)
        with step("API and dashboard (headless Chromium)", timings):
            in_netns(
                [sys.executable, "-m", "devtools.compose_test", "--probe"],
                env,
                log=WORK / "probe.log",
            )
            print((WORK / "probe.log").read_text(), end="")
    except ComposeTestError as exc:
        print(f"compose-test FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if services:
            with suppress(ComposeTestError):
                report(services)
                save_logs(services)
        if args.keep_up:
            print(f"    left running (--keep-up); ip netns exec {NETNS} ... reaches it")
        else:
            with step("down, remove what was created", timings):
                down(env, [] if args.keep_images else built)
    print("compose-test passed: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
