"""Correctness is not traded for speed: the golden sample through the current worker gives
exactly what the worker of commit 268f252 gave (before the throughput work of issue 10):
the same opportunity events per ASIN in the same order (ids, figures, times, breakdowns) and
the same Elasticsearch documents (``indexed_at`` aside). See tests/integration/golden/capture.py;
``worker_golden.json`` was written by it with that commit's worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from app.settings import Settings
from tests.integration.golden.capture import WORKER_ENV, run
from tests.integration.worker_process import FIXED_TIME_DATA, started_worker

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).parent / "golden" / "worker_golden.json"


def _first_difference(path: str, want: Any, got: Any) -> str | None:
    if type(want) is not type(got):
        return f"{path}: {want!r} != {got!r}"
    if isinstance(want, dict):
        for key in sorted(set(want) | set(got)):
            if key not in got:
                return f"{path}.{key}: missing"
            if key not in want:
                return f"{path}.{key}: not in the golden run ({got[key]!r})"
            if (found := _first_difference(f"{path}.{key}", want[key], got[key])) is not None:
                return found
        return None
    if isinstance(want, list):
        if len(want) != len(got):
            return f"{path}: {len(want)} items in the golden run, {len(got)} now"
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            if (found := _first_difference(f"{path}[{i}]", w, g)) is not None:
                return found
        return None
    return None if want == got else f"{path}: {want!r} != {got!r}"


def test_the_golden_sample_gives_the_golden_events_and_documents(
    tmp_path: Path, settings: Settings, es: Elasticsearch
) -> None:
    assert WORKER_ENV == FIXED_TIME_DATA
    golden = orjson.loads(GOLDEN.read_bytes())
    with started_worker("golden", tmp_path, settings, es, extra_env=FIXED_TIME_DATA) as worker:
        now = orjson.loads(orjson.dumps(run(worker, es)))
    assert golden["events"] > 20  # the sample opens, updates and closes routes
    difference = _first_difference("golden", golden, now)
    assert difference is None, difference
