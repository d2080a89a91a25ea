"""The Airflow environment: no Faust, the ingestion code importable, the image consistent
with docker-compose.yml."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from typing import Any

import pytest
import yaml

from app.settings import Settings
from devtools.airflow_standalone import SIZING
from tests.airflow.airflow_support import DAGS, REPO

LOCK = REPO / "infra" / "airflow" / "uv.lock"
DOCKERFILE = DAGS / "Dockerfile"


def test_lock_has_airflow_3_and_no_faust() -> None:
    packages = {p["name"]: p["version"] for p in tomllib.loads(LOCK.read_text())["package"]}
    assert packages["apache-airflow"].startswith("3.")
    assert not {"faust-streaming", "faust", "keepa", "mode-streaming"} & set(packages)
    # The clients must match the main environment's majors (same Kafka/ES servers).
    main = {
        p["name"]: p["version"] for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]
    }
    for name in ("aiokafka", "elasticsearch", "pydantic", "pydantic-settings"):
        assert packages[name].split(".")[0] == main[name].split(".")[0], name


def test_the_publishers_codec_is_available() -> None:
    """The DAGs publish with :class:`EnvelopePublisher`'s default codec (zstd, by cramjam)."""
    from aiokafka.codec import zstd_decode, zstd_encode

    from app.ingest.producer import DEFAULT_COMPRESSION

    assert DEFAULT_COMPRESSION == "zstd"
    assert zstd_decode(zstd_encode(b"envelope" * 100)) == b"envelope" * 100


NO_FAUST_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import app.keepa, app.ingest.producer, app.ingest.watchlist, app.ingest.scheduling
import app.ingest.signals, app.ingest.fx, app.ingest.runs, app.ingest.ingestion, app.ingest.gapfill
import arbitrage_dags.ingest, arbitrage_dags.discovery, arbitrage_dags.fx
forbidden = {"faust", "mode", "keepa", "agents", "tables", "app.faust_app", "app.topics"}
bad = sorted(m for m in sys.modules if m in forbidden or m.split(".")[0] in forbidden)
assert not bad, bad
"""


def test_ingestion_code_imports_without_faust() -> None:
    subprocess.run(
        [sys.executable, "-c", NO_FAUST_PROBE, str(DAGS)], check=True, cwd=REPO, timeout=120
    )


@pytest.fixture(scope="module")
def airflow_service() -> dict[str, Any]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    service: dict[str, Any] = compose["services"]["airflow"]
    return service


def test_compose_builds_the_airflow_image_from_dags(airflow_service: dict[str, Any]) -> None:
    build = airflow_service["build"]
    assert (REPO / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    dockerfile = DOCKERFILE.read_text()
    assert "uv sync --locked --no-dev --project infra/airflow" in dockerfile
    folder = airflow_service["environment"]["AIRFLOW__CORE__DAGS_FOLDER"]
    assert re.search(rf"^COPY dags {re.escape(folder)}$", dockerfile, re.M)
    assert f"AIRFLOW__CORE__DAGS_FOLDER={folder}" in dockerfile
    pythonpath = re.search(r"PYTHONPATH=(\S+)", dockerfile)
    assert pythonpath is not None
    assert re.search(rf"^COPY app {re.escape(pythonpath.group(1))}/app$", dockerfile, re.M)
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    assert "faust" not in "\n".join(instructions).lower()


def test_compose_environment_is_settings_or_airflow(airflow_service: dict[str, Any]) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for key in airflow_service["environment"]:
        assert key.startswith("AIRFLOW__") or key.upper() in fields, key


def test_the_image_is_sized_like_make_airflow() -> None:
    """Both run `airflow standalone` on the same 2 cores: same parallelism and workers."""
    dockerfile = DOCKERFILE.read_text()
    for name, value in SIZING.items():
        assert re.search(rf"^\s*{name}={value}\b", dockerfile, re.M), name
