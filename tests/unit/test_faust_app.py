"""The Faust application's own guards (``app/faust_app.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from faust.transport.consumer import Consumer

from app.faust_app import ArbitrageApp, app


async def test_recovery_completion_stops_fetching_until_faust_resumes_the_flow() -> None:
    # Faust sends on_rebalance_complete at the start of Recovery.on_recovery_completed, then
    # resumes the stream partitions and seeks them; the fetcher must not deliver records before
    # its own consumer.resume_flow() at the end (the kill -9 test shows what is lost otherwise).
    consumer = cast(Consumer, app.consumer)
    consumer.resume_flow()
    assert consumer.flow_active
    await app.on_rebalance_complete.send()
    assert not consumer.flow_active
    assert not consumer.can_resume_flow.is_set()
    consumer.resume_flow()  # what Faust does once the streams are seeked
    assert consumer.flow_active


def test_a_module_that_does_not_import_stops_autodiscovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Faust's own App logs the import error and carries on without the module's agents.
    package = tmp_path / "broken_agents"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "detector.py").write_text("<<<<<<< HEAD\n")  # a merge conflict left in the file
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = ArbitrageApp("autodiscovery-test", autodiscover=["broken_agents"])
    with pytest.raises(ImportError, match=r"broken_agents\.detector") as raised:
        broken.discover()
    assert isinstance(raised.value.__cause__, SyntaxError)
