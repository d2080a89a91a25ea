"""Counters of this worker process, shown by the ``/arbitrage/stats/`` web view and the bench."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class WorkerMetrics:
    started_at: float = field(default_factory=time.time)
    counters: Counter[str] = field(default_factory=Counter)
    dlq_reasons: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None
    last_error_at: float | None = None

    def incr(self, name: str, by: int = 1) -> None:
        self.counters[name] += by

    def error(self, message: str) -> None:
        self.last_error = message
        self.last_error_at = time.time()

    def snapshot(self) -> dict[str, Any]:
        return {
            "uptime_s": round(time.time() - self.started_at, 1),
            "counters": dict(self.counters),
            "dlq_reasons": dict(self.dlq_reasons),
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


metrics = WorkerMetrics()
