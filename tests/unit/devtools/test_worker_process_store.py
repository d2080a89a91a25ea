"""WorkerProcess pins the production table store (RocksDB) and refuses a worker on another."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings
from devtools.worker_process import PRODUCTION_STORE, WorkerProcess


def worker(tmp_path: Path, base: Settings, store: str = PRODUCTION_STORE) -> WorkerProcess:
    return WorkerProcess("unitw", tmp_path / "data", tmp_path / "w.log", base, store=store)


def stats(configured: str, tables: str) -> dict[str, object]:
    return {
        "store": configured,
        "table_stores": {"quotes": tables, "open-opportunities": tables, "fx-rates": tables},
    }


def test_rocksdb_is_pinned_whatever_the_base_settings_say(tmp_path: Path) -> None:
    assert PRODUCTION_STORE == "rocksdb://"
    w = worker(tmp_path, Settings(faust_store="memory://"))
    assert w.settings.faust_store == "rocksdb://"
    assert w.env()["FAUST_STORE"] == "rocksdb://"


def test_another_store_only_when_asked_for(tmp_path: Path) -> None:
    w = worker(tmp_path, Settings(), store="memory://")
    assert w.env()["FAUST_STORE"] == "memory://"
    w._check_store(stats("memory://", "memory://"))


def test_a_worker_reporting_another_store_is_refused(tmp_path: Path) -> None:
    w = worker(tmp_path, Settings())
    w._check_store(stats("rocksdb://", "rocksdb://"))
    with pytest.raises(RuntimeError, match=r"expected rocksdb://"):
        w._check_store(stats("memory://", "memory://"))
    with pytest.raises(RuntimeError, match=r"'quotes': 'memory://'"):
        w._check_store(stats("rocksdb://", "memory://"))
    with pytest.raises(RuntimeError, match=r"expected rocksdb://"):
        w._check_store({"counters": {}})  # a worker that does not say: not trusted


def test_settings_say_what_extra_env_makes_the_child_run_with(tmp_path: Path) -> None:
    w = WorkerProcess(
        "unitw",
        tmp_path / "data",
        tmp_path / "w.log",
        Settings(),
        extra_env={"FAUST_APP_ID": "arbitrage-unitw-replay", "ALERT_MAX_ATTEMPTS": "3"},
    )
    assert w.settings.faust_app_id == "arbitrage-unitw-replay"  # its consumer group
    assert w.env()["FAUST_APP_ID"] == "arbitrage-unitw-replay"
    assert w.settings.topic_prefix == "unitw."
    assert w.env()["ALERT_MAX_ATTEMPTS"] == "3"
