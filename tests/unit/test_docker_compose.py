"""docker-compose.yml cannot run here; this keeps it consistent with the code instead."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest
import yaml

from app.settings import PROJECT_ROOT, Settings
from devtools.stack.artifacts import pinned_versions

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _ports(service: dict[str, Any]) -> set[int]:
    return {int(p.split(":")[-1]) for p in service.get("ports", [])}


def test_services_present(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "kafka",
        "elasticsearch",
        "worker",
        "api",
        "dashboard",
        "airflow",
    }


def test_server_versions_match_the_local_stack_and_clients(compose: dict[str, Any]) -> None:
    versions = pinned_versions()
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{versions.kafka}"
    assert services["elasticsearch"]["image"].endswith(f"/elasticsearch:{versions.elasticsearch}")
    # The Python client needs a server of the same major version.
    assert versions.elasticsearch.split(".")[0] == version("elasticsearch").split(".")[0]


def test_ports_match_settings(compose: dict[str, Any]) -> None:
    def default(name: str) -> Any:  # the code's default, not this shell's environment
        return Settings.model_fields[name].default

    services = compose["services"]
    assert int(default("kafka_bootstrap_servers").rsplit(":", 1)[1]) in _ports(services["kafka"])
    assert int(default("elasticsearch_url").rsplit(":", 1)[1]) in _ports(services["elasticsearch"])
    assert default("faust_web_port") in _ports(services["worker"])
    assert default("api_port") in _ports(services["api"])
    assert default("dashboard_port") in _ports(services["dashboard"])


def test_every_environment_variable_is_a_setting(compose: dict[str, Any]) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name in ("worker", "api", "dashboard"):
        env = compose["services"][name]["environment"]
        unknown = {key for key in env if key.upper() not in fields}
        assert not unknown, f"{name}: {unknown} are not settings"
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["ELASTICSEARCH_URL"] == "http://elasticsearch:9200"


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert "healthcheck" in service, name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services
            assert condition == {"condition": "service_healthy"}
