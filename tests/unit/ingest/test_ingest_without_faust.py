"""The ingestion package must import in Airflow's virtualenv, which has no Faust."""

from __future__ import annotations

import subprocess
import sys

BLOCKER = """
import sys
BLOCKED = ("faust", "mode", "agents", "tables")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED or name in ("app.faust_app", "app.topics"):
            raise ImportError("blocked " + name)
        return None
sys.meta_path.insert(0, Block())
import app.ingest.cli, app.ingest.estimates, app.ingest.producer, app.ingest.replay
import app.ingest.scheduling, app.ingest.signals, app.ingest.watchlist, app.ingest.fx_topic
"""


def test_ingest_modules_import_without_faust() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
