"""Resolving the official Kafka and Elasticsearch artifacts from Maven Central with ``mvn``.

The versions live in ``infra/pom.xml``; the unpacked result is cached under ``.stack/dist`` and
Maven's own cache (``~/.m2``), so only the first ``stack up`` downloads anything.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from app.settings import PROJECT_ROOT

POM = PROJECT_ROOT / "infra" / "pom.xml"


class ArtifactError(RuntimeError):
    pass


@dataclass(frozen=True)
class Versions:
    kafka: str
    elasticsearch: str


def pinned_versions(pom: Path = POM) -> Versions:
    text = pom.read_text()

    def prop(name: str) -> str:
        match = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", text)
        if not match:
            raise ArtifactError(f"{pom} does not define <{name}>")
        return match.group(1).strip()

    return Versions(kafka=prop("kafka.version"), elasticsearch=prop("elasticsearch.version"))


@dataclass(frozen=True)
class Distribution:
    kafka_libs: Path
    elasticsearch_home: Path
    versions: Versions


def locate(dist_dir: Path, versions: Versions) -> Distribution:
    return Distribution(
        kafka_libs=dist_dir / f"kafka-{versions.kafka}" / "libs",
        elasticsearch_home=dist_dir / f"elasticsearch-{versions.elasticsearch}",
        versions=versions,
    )


def completion_marker(dist_dir: Path, versions: Versions, pom: Path = POM) -> Path:
    """The file that says ``mvn`` resolved this POM into ``dist_dir``: named by the versions
    and a digest of the POM, so any change to it (a dependency added) resolves again."""
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    return dist_dir / f".complete-{versions.kafka}-{versions.elasticsearch}-{digest}"


def ensure_distribution(dist_dir: Path, pom: Path = POM) -> Distribution:
    """Return the unpacked artifacts, running ``mvn`` once when they are not cached yet."""
    versions = pinned_versions(pom)
    dist = locate(dist_dir, versions)
    complete = completion_marker(dist_dir, versions, pom)
    if complete.exists():
        return dist
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ArtifactError(
            "Maven (mvn) is required to fetch Kafka and Elasticsearch from Maven Central; "
            "install it (e.g. apt-get install maven) or use `docker compose up`."
        )
    dist_dir.mkdir(parents=True, exist_ok=True)
    # The libs of an earlier POM go first: copy-dependencies adds jars but never removes one
    # the POM no longer resolves (two slf4j-api versions on the broker's classpath).
    shutil.rmtree(dist.kafka_libs, ignore_errors=True)
    log = dist_dir / "mvn.log"
    with log.open("wb") as out:
        proc = subprocess.run(
            [mvn, "-B", "-f", str(pom), f"-Dstack.dir={dist_dir}", "process-resources"],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if proc.returncode != 0:
        raise ArtifactError(f"mvn could not resolve the stack artifacts; see {log}")
    for path in (dist.kafka_libs, dist.elasticsearch_home / "bin" / "elasticsearch"):
        if not path.exists():
            raise ArtifactError(f"mvn finished but {path} is missing; see {log}")
    complete.touch()
    return dist
