"""Reading the results of a mapped task inside its downstream task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def mapped_results(values: Sequence[Any] | None) -> list[Any]:
    """The mapped task instances' return values, by map index.

    Indexes within ``len`` instead of iterating: iterating Airflow's lazy XCom sequence
    ends with a failed lookup one past the end, which Airflow logs as an error.
    """
    if not values:
        return []
    return [values[i] for i in range(len(values))]
