"""docker-compose.yml cannot run here; this keeps it consistent with the code instead."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
from importlib.metadata import version
from typing import Any

import pytest
from fastapi.testclient import TestClient
from streamlit.web.server.starlette.starlette_routes import ROUTE_HEALTH as STREAMLIT_HEALTH

from app.api.main import create_app
from app.settings import PROJECT_ROOT, Settings
from app.webhook.main import create_app as create_webhook_app
from devtools.stack.artifacts import pinned_versions
from tests.compose_file import healthcheck_urls, load_compose, published
from tests.unit.webhook.webhook_fakes import FakePublisher


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def _ports(service: dict[str, Any]) -> set[int]:
    return {published(p)[2] for p in service.get("ports", [])}


def test_services_present(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "kafka",
        "elasticsearch",
        "worker",
        "api",
        "dashboard",
        "airflow",
        "webhook",
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
    assert default("webhook_port") in _ports(services["webhook"])


def test_every_environment_variable_is_a_setting(compose: dict[str, Any]) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name in ("worker", "api", "dashboard", "webhook"):
        env = compose["services"][name]["environment"]
        unknown = {key for key in env if key.upper() not in fields}
        assert not unknown, f"{name}: {unknown} are not settings"
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        if name != "webhook":
            assert env["ELASTICSEARCH_URL"] == "http://elasticsearch:9200"


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert "healthcheck" in service, name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services
            assert condition == {"condition": "service_healthy"}


# --- safe defaults -------------------------------------------------------------------------

#: The services that run this project's code, with the setting that makes each listen on all
#: interfaces *inside* its container (so that Docker's port forwarding reaches it).
OWN_SERVICES = {
    "worker": "FAUST_WEB_HOST",
    "api": "API_HOST",
    "dashboard": "DASHBOARD_HOST",
    "webhook": "WEBHOOK_HOST",
}
#: Third-party services: their healthchecks use their vendors' endpoints.
THIRD_PARTY = {"kafka", "elasticsearch", "airflow"}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("9200:9200", ("", 9200, 9200)),
        ("9200", ("", 0, 9200)),
        ("127.0.0.1:9200:9200", ("127.0.0.1", 9200, 9200)),
        ("0.0.0.0:9200:9200/tcp", ("0.0.0.0", 9200, 9200)),
        ("[::1]:9200:9200", ("::1", 9200, 9200)),
        ({"target": 9200, "published": 9201, "host_ip": "127.0.0.1"}, ("127.0.0.1", 9201, 9200)),
        ({"target": 9200, "published": 9200}, ("", 9200, 9200)),
    ],
)
def test_port_entries_are_parsed(
    entry: str | dict[str, Any], expected: tuple[str, int, int]
) -> None:
    assert published(entry) == expected


def test_no_published_port_binds_to_all_interfaces(compose: dict[str, Any]) -> None:
    count = 0
    for name, service in compose["services"].items():
        assert service.get("network_mode") != "host", f"{name} shares the host's network"
        for entry in service.get("ports", []):
            host_ip, _, _ = published(entry)
            assert host_ip, f"{name}: {entry!r} is published on all interfaces of the host"
            assert ipaddress.ip_address(host_ip).is_loopback, f"{name}: {entry!r}"
            count += 1
    assert count >= len(compose["services"])


def test_services_listen_on_all_interfaces_only_inside_their_container(
    compose: dict[str, Any],
) -> None:
    """127.0.0.1 inside a container is unreachable for Docker's forwarding: our services
    say 0.0.0.0 explicitly, which is safe because the host side is loopback-only (above)."""
    for name, variable in OWN_SERVICES.items():
        service = compose["services"][name]
        assert service["environment"][variable] == "0.0.0.0", name
        assert "--host" not in service["command"], f"{name}: use {variable}, not --host"


def _faust_views() -> set[str]:
    """The paths the worker's web server serves in production (our views; Faust's own
    debug views such as /stats/ are not served there). A fresh interpreter: importing the
    views registers them on the one Faust app."""
    script = (
        "import json, app.views\n"
        "from app.faust_app import app\n"
        "print(json.dumps(sorted(app.web.views)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    views: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return set(views)


def _api_get_paths() -> set[str]:
    schema = create_app(Settings()).openapi()
    return {path for path, operations in schema["paths"].items() if "get" in operations}


def _webhook_get_paths(compose: dict[str, Any]) -> set[str]:
    """The receiver serves no OpenAPI document: the path of its healthcheck, if the app
    answers it 200 (with a healthy publisher)."""
    app = create_webhook_app(Settings(keepa_webhook_secret="x" * 40), publisher=FakePublisher())
    (url,) = healthcheck_urls(compose["services"]["webhook"])
    return {url.path} if TestClient(app).get(url.path).status_code == 200 else set()


def test_every_healthcheck_requests_a_path_the_app_serves(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == set(OWN_SERVICES) | THIRD_PARTY
    defaults = Settings()
    served = {
        "worker": (defaults.faust_web_port, _faust_views()),
        "api": (defaults.api_port, _api_get_paths()),
        "dashboard": (defaults.dashboard_port, {"/" + STREAMLIT_HEALTH.lstrip("/")}),
        "webhook": (defaults.webhook_port, _webhook_get_paths(compose)),
    }
    assert "/arbitrage/stats/" in served["worker"][1]
    assert "/health" in served["webhook"][1]
    for name, (port, paths) in served.items():
        urls = healthcheck_urls(services[name])
        assert len(urls) == 1, f"{name}: {services[name]['healthcheck']}"
        (url,) = urls
        assert url.hostname == "localhost", name
        assert url.port == port, f"{name}: the healthcheck asks port {url.port}, not {port}"
        assert url.path in paths, f"{name}: {url.path} is not served (serves {sorted(paths)})"


def test_api_token_is_required_and_only_the_api_gets_it(compose: dict[str, Any]) -> None:
    value = compose["services"]["api"]["environment"]["API_TOKEN"]
    assert re.fullmatch(r"\$\{API_TOKEN:\?[^}]+\}", value), value
    others = [name for name in compose["services"] if name != "api"]
    for name in others:
        assert "API_TOKEN" not in compose["services"][name].get("environment", {}), name


def test_the_webhook_is_opt_in_and_only_it_gets_the_webhook_secret(
    compose: dict[str, Any],
) -> None:
    """A profile: ``docker compose up`` without a Keepa webhook needs no secret (Compose
    checks a ``${VAR:?}`` in every service, active or not, so the receiver checks instead)."""
    webhook = compose["services"]["webhook"]
    assert webhook["profiles"] == ["webhook"]
    assert webhook["command"] == ["arbitrage", "webhook"]
    assert webhook["environment"]["KEEPA_WEBHOOK_SECRET"] == "${KEEPA_WEBHOOK_SECRET:-}"
    assert "KEEPA_API_KEY" not in webhook["environment"]
    for name, service in compose["services"].items():
        if name != "webhook":
            assert "KEEPA_WEBHOOK_SECRET" not in service.get("environment", {}), name
            assert "profiles" not in service, f"{name} would not start with `docker compose up`"


@pytest.mark.parametrize("path", ["docker-compose.yml", "README.md", "Dockerfile", "docs"])
def test_no_placeholder_is_given_as_a_value(path: str) -> None:
    """``API_TOKEN=change-me``, ``${API_TOKEN:-change-me}``, ``API_TOKEN: changeme``: an
    example value ends up in production."""
    assigned = re.compile(r"(?:=|:-|:\s)\s*[\"']?change[-_]?me", re.IGNORECASE)
    target = PROJECT_ROOT / path
    files = sorted(target.rglob("*")) if target.is_dir() else [target]
    for file in files:
        if file.is_file():
            match = assigned.search(file.read_text())
            assert match is None, f"{file}: {match and match.group(0)!r}"


def test_kafka_keeps_its_log_on_the_volume(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    mounts = {v.split(":", 1)[1] for v in kafka["volumes"]}
    assert kafka["environment"]["KAFKA_LOG_DIRS"] in mounts
