"""Resolving the stack's artifacts: when ``mvn`` runs again, and that it leaves no stale jar."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from devtools.stack.artifacts import completion_marker, ensure_distribution, pinned_versions

POM = """<project><properties>
<kafka.version>4.4.0</kafka.version><elasticsearch.version>9.5.4</elasticsearch.version>
</properties>{extra}</project>"""


def _pom(tmp_path: Path, extra: str = "") -> Path:
    pom = tmp_path / "pom.xml"
    pom.write_text(POM.format(extra=extra))
    return pom


def _fake_mvn(tmp_path: Path, jars: list[str]) -> Path:
    """An ``mvn`` that 'resolves' by creating the given jars and the ES launcher."""
    script = tmp_path / "mvn"
    lines = [
        "#!/bin/sh",
        'for a in "$@"; do case "$a" in -Dstack.dir=*) dir="${a#-Dstack.dir=}";; esac; done',
        'mkdir -p "$dir/kafka-4.4.0/libs" "$dir/elasticsearch-9.5.4/bin"',
        'touch "$dir/elasticsearch-9.5.4/bin/elasticsearch"',
        *(f'touch "$dir/kafka-4.4.0/libs/{jar}"' for jar in jars),
    ]
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_the_marker_changes_with_the_pom(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    first = completion_marker(dist, pinned_versions(_pom(tmp_path)), _pom(tmp_path))
    same = completion_marker(dist, pinned_versions(_pom(tmp_path)), _pom(tmp_path))
    changed_pom = _pom(tmp_path, "<dependencies/>")
    changed = completion_marker(dist, pinned_versions(changed_pom), changed_pom)
    assert first == same
    assert changed != first
    assert first.name.startswith(".complete-4.4.0-9.5.4-")


def test_a_changed_pom_resolves_again_without_the_old_jars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist_dir = tmp_path / "dist"
    pom = _pom(tmp_path)
    monkeypatch.setattr(
        "shutil.which", lambda name: str(_fake_mvn(tmp_path, ["slf4j-api-1.7.36.jar"]))
    )
    libs = ensure_distribution(dist_dir, pom).kafka_libs
    assert sorted(p.name for p in libs.iterdir()) == ["slf4j-api-1.7.36.jar"]

    # Cached: mvn does not run again for the same POM (it would fail here).
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert ensure_distribution(dist_dir, pom).kafka_libs == libs

    # The POM changes (slf4j-api 2 pinned): mvn runs again and the 1.7 jar is gone.
    pom = _pom(tmp_path, "<dependencies/>")
    monkeypatch.setattr(
        "shutil.which", lambda name: str(_fake_mvn(tmp_path, ["slf4j-api-2.0.16.jar"]))
    )
    libs = ensure_distribution(dist_dir, pom).kafka_libs
    assert sorted(p.name for p in libs.iterdir()) == ["slf4j-api-2.0.16.jar"]
