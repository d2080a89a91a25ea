"""Choosing a JDK for each component: Kafka 4 needs Java >= 17, Elasticsearch 9 needs >= 21."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

JVM_ROOT = Path("/usr/lib/jvm")


class JdkNotFoundError(RuntimeError):
    pass


def java_major(java_home: Path) -> int | None:
    """Major version of the JDK at ``java_home`` (its ``release`` file, else ``java -version``)."""
    release = java_home / "release"
    if release.is_file():
        match = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
        if match:
            return int(match.group(1))
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', out.stderr)
    return int(match.group(1)) if match else None


def _candidates() -> list[Path]:
    homes: list[Path] = []
    if JVM_ROOT.is_dir():
        homes.extend(p for p in sorted(JVM_ROOT.iterdir()) if (p / "bin" / "java").is_file())
    java = shutil.which("java")
    if java:
        homes.append(Path(java).resolve().parent.parent)
    return homes


def find_java_home(minimum: int, explicit: Path | None = None) -> Path:
    """The JDK to use: ``explicit`` when given (checked), else the oldest one >= ``minimum``.

    The oldest that qualifies is the one the server release was tested most with (Kafka 4 on 17,
    Elasticsearch 9 on 21+).
    """
    if explicit is not None:
        major = java_major(explicit)
        if major is None or major < minimum:
            raise JdkNotFoundError(f"{explicit} is not a JDK >= {minimum} (found {major})")
        return explicit
    best: tuple[int, Path] | None = None
    for home in _candidates():
        major = java_major(home)
        if major is not None and major >= minimum and (best is None or major < best[0]):
            best = (major, home)
    if best is None:
        raise JdkNotFoundError(
            f"Java >= {minimum} is required but none was found in {JVM_ROOT} or on PATH; "
            "install a JDK (e.g. apt-get install openjdk-21-jdk-headless)."
        )
    return best[1]
