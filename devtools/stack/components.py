"""The two servers of the local stack, each configured, started, probed and stopped the same way."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import pwd
import shutil
import subprocess
import time
import uuid
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from devtools.stack.artifacts import Distribution
from devtools.stack.jdk import find_java_home
from devtools.stack.processes import PidFile, spawn, stop_group


class StackError(RuntimeError):
    """A component could not be started or is not healthy; the message names the log file."""


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    version: str
    running: bool
    ready: bool
    pid: int | None
    address: str
    detail: str = ""


class Component(ABC):
    name: str

    def __init__(self, root: Path, dist: Distribution) -> None:
        self.dir = root / self.name
        self.dist = dist
        self.pidfile = PidFile(self.dir / f"{self.name}.pid")
        self.log = self.dir / "logs" / "stdout.log"

    @property
    @abstractmethod
    def version(self) -> str: ...

    @property
    @abstractmethod
    def address(self) -> str: ...

    @abstractmethod
    def _prepare(self) -> tuple[list[str], dict[str, str], str | None]:
        """Write configuration; return argv, environment and the user to run as."""

    @abstractmethod
    def probe(self) -> tuple[bool, str]:
        """Ask the server itself whether it is ready; (ready, detail)."""

    def start(self) -> bool:
        """Start unless already running; True when this call started it."""
        if self.pidfile.running_pid() is not None:
            return False
        argv, env, user = self._prepare()
        proc = spawn(argv, log_path=self.log, env=env, cwd=self.dir, user=user)
        self.pidfile.write(proc.pid)
        return True

    def wait_ready(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        detail = "not answering"
        while time.monotonic() < deadline:
            if self.pidfile.running_pid() is None:
                raise StackError(f"{self.name} exited during start-up; see {self.log_hint()}")
            ready, detail = self.probe()
            if ready:
                return detail
            time.sleep(1.0)
        raise StackError(
            f"{self.name} not ready after {timeout_s:.0f}s ({detail}); see {self.log_hint()}"
        )

    def log_hint(self) -> str:
        return str(self.log)

    def stop(self) -> bool:
        pid = self.pidfile.running_pid()
        if pid is None:
            return False
        stop_group(pid)
        self.pidfile.path.unlink(missing_ok=True)
        return True

    def status(self) -> ComponentStatus:
        pid = self.pidfile.running_pid()
        ready, detail = self.probe() if pid is not None else (False, "stopped")
        return ComponentStatus(
            self.name, self.version, pid is not None, ready, pid, self.address, detail
        )


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host or "127.0.0.1", int(port) if port else default_port)


class Kafka(Component):
    """Apache Kafka in KRaft mode: one process that is both broker and controller."""

    name = "kafka"

    def __init__(
        self, root: Path, dist: Distribution, bootstrap: str, heap: str, java_home: Path | None
    ) -> None:
        super().__init__(root, dist)
        self.host, self.port = _host_port(bootstrap.split(",")[0], 9092)
        self.heap = heap
        self.java_home_setting = java_home

    @property
    def version(self) -> str:
        return self.dist.versions.kafka

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def log_hint(self) -> str:
        return str(self.dir / "logs" / "server.log")

    def _java(self) -> tuple[str, dict[str, str]]:
        java_home = find_java_home(17, self.java_home_setting)
        env = {**os.environ, "JAVA_HOME": str(java_home)}
        return str(java_home / "bin" / "java"), env

    def _write_config(self) -> Path:
        data = self.dir / "data"
        logs = self.dir / "logs"
        data.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        controller = self.port + 1
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{controller}",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{controller}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # The app creates its topics with the partition counts it needs.
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
        }
        config = self.dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.dir / "log4j2.properties").write_text(
            "status = warn\n"
            "appender.file.type = RollingFile\n"
            "appender.file.name = file\n"
            f"appender.file.fileName = {logs / 'server.log'}\n"
            f"appender.file.filePattern = {logs / 'server.log.%i'}\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "appender.file.policies.type = Policies\n"
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy\n"
            "appender.file.policies.size.size = 50MB\n"
            "appender.file.strategy.type = DefaultRolloverStrategy\n"
            "appender.file.strategy.max = 3\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = file\n"
            "logger.kafka.name = kafka\n"
            "logger.kafka.level = INFO\n"
            "logger.state.name = state.change.logger\n"
            "logger.state.level = WARN\n"
        )
        return config

    def _jvm_args(self) -> list[str]:
        return [
            "-cp",
            f"{self.dist.kafka_libs}/*",
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.dir / 'logs'}",
        ]

    def _format_storage(self, java: str, env: dict[str, str], config: Path) -> None:
        if (self.dir / "data" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            [java, *self._jvm_args(), "kafka.tools.StorageTool", "format", "-t", cluster_id,
             "-c", str(config)],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")

    def _prepare(self) -> tuple[list[str], dict[str, str], str | None]:
        java, env = self._java()
        config = self._write_config()
        self._format_storage(java, env, config)
        argv = [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dstack.component={self.dir}",
            *self._jvm_args(),
            "kafka.Kafka",
            str(config),
        ]
        return argv, env, None

    def probe(self) -> tuple[bool, str]:
        # aiokafka logs every refused connection at ERROR; while we poll, that is expected.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        try:
            # A thread of its own: works whether or not the caller runs an event loop.
            with ThreadPoolExecutor(max_workers=1) as pool:
                return pool.submit(asyncio.run, _kafka_metadata(self.address)).result()
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"


async def _kafka_metadata(bootstrap: str) -> tuple[bool, str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await asyncio.wait_for(admin.start(), timeout=5)
    try:
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout=5)
    finally:
        await admin.close()
    brokers = cluster.get("brokers", [])
    return (len(brokers) > 0, f"cluster {cluster.get('cluster_id')}, {len(brokers)} broker(s)")


class Elasticsearch(Component):
    """A single Elasticsearch node from the official integ-test-zip distribution."""

    name = "elasticsearch"

    def __init__(
        self, root: Path, dist: Distribution, url: str, heap: str, java_home: Path | None, user: str
    ) -> None:
        super().__init__(root, dist)
        parts = urlsplit(url)
        self.url = url.rstrip("/")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 9200
        self.heap = heap
        self.java_home_setting = java_home
        self.user = user

    @property
    def version(self) -> str:
        return self.dist.versions.elasticsearch

    @property
    def address(self) -> str:
        return self.url

    def log_hint(self) -> str:
        return str(self.dir / "logs" / "arbitrage-local.log")

    def _run_as(self) -> str | None:
        """Elasticsearch refuses to run as root: use (and create) an unprivileged user."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            useradd = shutil.which("useradd")
            if useradd is None:
                raise StackError(
                    f"running as root and user {self.user!r} does not exist (no useradd)"
                ) from None
            argv = [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
            subprocess.run([*argv, self.user], check=True, capture_output=True)
        return self.user

    def _prepare(self) -> tuple[list[str], dict[str, str], str | None]:
        java_home = find_java_home(21, self.java_home_setting)
        user = self._run_as()
        config, data, logs, tmp = (self.dir / d for d in ("config", "data", "logs", "tmp"))
        for d in (config, data, logs, tmp):
            d.mkdir(parents=True, exist_ok=True)
        dist_config = self.dist.elasticsearch_home / "config"
        for name in ("jvm.options", "log4j2.properties"):
            shutil.copyfile(dist_config / name, config / name)
        (config / "jvm.options.d").mkdir(exist_ok=True)
        (config / "jvm.options.d" / "heap.options").write_text(
            f"-Xms{self.heap}\n-Xmx{self.heap}\n"
        )
        (config / "elasticsearch.yml").write_text(
            "cluster.name: arbitrage-local\n"
            "node.name: local-1\n"
            f"path.data: {data}\n"
            f"path.logs: {logs}\n"
            f"network.host: {self.host}\n"
            f"http.port: {self.port}\n"
            f"transport.port: {self.port + 100}\n"
            "discovery.type: single-node\n"
            "xpack.security.enabled: false\n"
            "cluster.routing.allocation.disk.threshold_enabled: false\n"
            "action.destructive_requires_name: false\n"
        )
        if user is not None:
            uid = pwd.getpwnam(user).pw_uid
            gid = pwd.getpwnam(user).pw_gid
            for path in (self.dir, config, data, logs, tmp, *config.rglob("*"), *data.rglob("*"),
                         *logs.rglob("*"), *tmp.rglob("*")):  # fmt: skip
                os.chown(path, uid, gid)
            _check_readable_by(user, self.dist.elasticsearch_home)
        env = {
            **os.environ,
            "ES_JAVA_HOME": str(java_home),
            "ES_PATH_CONF": str(config),
            "ES_TMPDIR": str(tmp),
            "ES_JAVA_OPTS": f"-Dstack.component={self.dir}",
        }
        argv = [str(self.dist.elasticsearch_home / "bin" / "elasticsearch")]
        return argv, env, user

    def probe(self) -> tuple[bool, str]:
        try:
            response = httpx.get(
                f"{self.url}/_cluster/health", params={"timeout": "1s"}, timeout=3.0
            )
            health = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return False, f"{type(exc).__name__}: {exc}"
        status = health.get("status")
        if status not in ("yellow", "green"):
            return False, f"cluster health {status}"
        try:
            nodes = httpx.get(f"{self.url}/_nodes/_local/settings", timeout=3.0).json()["nodes"]
            served = ", ".join(sorted({n["version"] for n in nodes.values()}))
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return False, f"nodes info failed: {exc}"
        return True, f"cluster health {status}, server {served}"


def _check_readable_by(user: str, path: Path) -> None:
    check = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-r", str(path / "lib")],
        capture_output=True, check=False,
    )  # fmt: skip
    if check.returncode != 0:
        raise StackError(
            f"user {user!r} cannot read {path}; every parent directory needs o+x "
            "(or set STACK_DIR to a readable place)"
        )
