"""Reading docker-compose.yml in tests (it cannot run here): published ports and the URLs
its healthchecks request."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import yaml

from app.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def load_compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def published(entry: str | dict[str, Any]) -> tuple[str, int, int]:
    """(host IP, host port, container port) of one ``ports`` entry, short or long syntax;
    the host IP is "" when none is given, i.e. all interfaces of the host."""
    if isinstance(entry, dict):
        return str(entry.get("host_ip", "")), int(entry["published"]), int(entry["target"])
    spec = entry.split("/", 1)[0]  # drop "/tcp"
    host_ip = ""
    if spec.startswith("["):  # [::1]:9200:9200
        host_ip, spec = spec[1:].split("]:", 1)
    parts = spec.split(":")
    if len(parts) == 3:
        host_ip, host_port, target = parts
    elif len(parts) == 2:
        host_port, target = parts
    else:  # only the container port: a random host port on all interfaces
        host_port, target = "0", parts[0]
    return host_ip, int(host_port), int(target)


def healthcheck_urls(service: dict[str, Any]) -> list[urllib.parse.SplitResult]:
    """The URLs a service's healthcheck command requests."""
    command = " ".join(service["healthcheck"]["test"][1:])
    return [urllib.parse.urlsplit(url) for url in re.findall(r"https?://[^\s'\"]+", command)]


def healthcheck_path(name: str) -> str:
    """The path (and query) the healthcheck of service ``name`` requests."""
    (url,) = healthcheck_urls(load_compose()["services"][name])
    return f"{url.path}?{url.query}" if url.query else url.path
