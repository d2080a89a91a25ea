from __future__ import annotations

from pathlib import Path

import pytest

from devtools.stack import jdk


def _fake_jdk(root: Path, name: str, major: int) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'JAVA_VERSION="{major}.0.1"\n')
    return home


def test_oldest_jdk_meeting_the_minimum_is_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_jdk(tmp_path, "jdk-11", 11)
    j17 = _fake_jdk(tmp_path, "jdk-17", 17)
    j25 = _fake_jdk(tmp_path, "jdk-25", 25)
    monkeypatch.setattr(jdk, "JVM_ROOT", tmp_path)
    monkeypatch.setattr(jdk.shutil, "which", lambda _: None)
    assert jdk.find_java_home(17) == j17
    assert jdk.find_java_home(21) == j25
    with pytest.raises(jdk.JdkNotFoundError, match="Java >= 26"):
        jdk.find_java_home(26)


def test_explicit_jdk_is_checked(tmp_path: Path) -> None:
    j17 = _fake_jdk(tmp_path, "jdk-17", 17)
    with pytest.raises(jdk.JdkNotFoundError):
        jdk.find_java_home(21, j17)
