"""Tests of the DAGs: they run in the Airflow virtualenv only (``make test`` does that).

    .venv-airflow/bin/python -m pytest tests/airflow     (PYTHONPATH = the repository root)

In the main environment (no Airflow, Faust instead) this directory is skipped. Airflow gets
a throw-away home with a SQLite metadata database, migrated once per session; the
environment is set here, before anything imports Airflow (it reads its config at import).
The stack fixtures (``stack``, ``es``, ``kafka_bootstrap``, ``unique``) are the ones of
``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from app.settings import Settings
from tests.airflow.airflow_support import DAGS, cleanup
from tests.unit.keepa.keepa_fakes import API_KEY, BASE_URL

if importlib.util.find_spec("airflow") is None:
    collect_ignore_glob = ["test_*.py"]
else:
    _HOME = tempfile.mkdtemp(prefix="arbitrage-airflow-home-")
    os.environ["AIRFLOW_HOME"] = _HOME
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    # Airflow's log handlers keep the stream they were set up with; pytest closes captured
    # streams between tests, so a late record would print "--- Logging error ---" noise.
    logging.raiseExceptions = False
    if str(DAGS) not in sys.path:
        sys.path.insert(0, str(DAGS))


#: Fixtures that need the real Kafka and Elasticsearch (those of tests/conftest.py, and ours).
_STACK_FIXTURES = frozenset({"stack", "es", "kafka_bootstrap", "isolated"})


def pytest_configure(config: pytest.Config) -> None:
    # Registered in pyproject.toml too; here as well, so this suite never depends on where
    # pytest finds its configuration (--strict-markers).
    config.addinivalue_line(
        "markers", "integration: needs the real local Kafka and Elasticsearch (the stack)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test of this directory that needs the stack is an ``integration`` test (the marker
    is registered in pyproject.toml, which configures this suite too), so that
    ``-m "not integration"`` never starts or needs the stack."""
    for item in items:
        if "/tests/airflow/" not in str(item.path):
            continue
        if _STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def airflow_home() -> Iterator[Path]:
    """The session's AIRFLOW_HOME with a migrated metadata database."""
    home = Path(os.environ["AIRFLOW_HOME"])
    from airflow.utils.db import upgradedb

    upgradedb()  # what `airflow db migrate` does (a fresh database: create + stamp)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def isolated(
    stack: object,
    es: Elasticsearch,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
    airflow_home: Path,
) -> Iterator[Settings]:
    """Settings of one test: unique topic and index prefixes, a fake Keepa key and URL.

    The DAG's tasks run in this process under ``dag.test()`` and build their ``Settings``
    from this environment. Topics and indices with the prefix are deleted afterwards.
    """
    prefix = f"af-{unique}-"
    monkeypatch.setenv("TOPIC_PREFIX", prefix)
    monkeypatch.setenv("ELASTICSEARCH_INDEX_PREFIX", prefix)
    monkeypatch.setenv("KEEPA_API_KEY", API_KEY)
    monkeypatch.setenv("KEEPA_API_URL", BASE_URL)
    settings = Settings()
    yield settings
    cleanup(es, settings)
