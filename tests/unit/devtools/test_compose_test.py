"""The pure parts of `make compose-test` (devtools/compose_test.py); the run itself is
`make compose-test` (real Podman, real images)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from app.settings import PROJECT_ROOT
from devtools.compose_test import (
    COMPOSE_FILES,
    NETNS,
    ComposeTestError,
    can_run,
    duration_s,
    startup_levels,
)
from tests.compose_file import load_compose


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), (15, 15.0), ("2.5s", 2.5)],
)
def test_duration(text: str | int, seconds: float) -> None:
    assert duration_s(text) == seconds


@pytest.mark.parametrize("text", ["10", "s", "10x", "m5"])
def test_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="compose duration"):
        duration_s(text)


def test_levels_of_the_real_compose_file() -> None:
    levels = startup_levels(load_compose()["services"])
    assert levels == [
        ["elasticsearch", "kafka"],
        ["airflow", "api", "worker"],
        ["dashboard", "webhook"],
    ]


def test_levels_order_every_dependency_first() -> None:
    services: dict[str, dict[str, Any]] = {
        "d": {"depends_on": {"c": {"condition": "service_healthy"}}},
        "c": {"depends_on": ["a", "b"]},
        "b": {"depends_on": ["a"]},
        "a": {},
    }
    assert startup_levels(services) == [["a"], ["b"], ["c"], ["d"]]


def test_levels_refuse_cycles_and_unknown_services() -> None:
    with pytest.raises(ComposeTestError, match="cycle"):
        startup_levels({"a": {"depends_on": ["b"]}, "b": {"depends_on": ["a"]}})
    with pytest.raises(ComposeTestError, match="unknown"):
        startup_levels({"a": {"depends_on": ["x"]}})


def test_override_only_swaps_images_builds_and_network() -> None:
    """The override may not change what the services do: only image names, the base-image
    build arg and the network namespace (where the service names resolve to loopback)."""
    base = load_compose()["services"]
    override = yaml.safe_load(COMPOSE_FILES[1].read_text())["services"]
    assert set(override) == set(base)
    for name, spec in override.items():
        assert set(spec) <= {"image", "build", "network_mode", "extra_hosts", "hostname"}, name
        assert spec["network_mode"] == f"ns:/run/netns/{NETNS}"
        assert {h.split(":")[0] for h in spec["extra_hosts"]} == set(base)
        assert spec["hostname"] == name
        if "build" in spec:
            assert "build" in base[name], name
            assert spec["build"] == {"args": {"PYTHON_IMAGE": "localhost/arbitrage-python:3.11"}}
        assert spec["image"].startswith("localhost/arbitrage-")


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "dags/Dockerfile"])
def test_dockerfiles_build_on_the_official_python_image_by_default(dockerfile: str) -> None:
    lines = (PROJECT_ROOT / dockerfile).read_text().splitlines()
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[:2] == ["ARG PYTHON_IMAGE=python:3.11-slim", "FROM ${PYTHON_IMAGE}"]


def test_cannot_run_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert can_run() == "not root"
