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


def test_a_global_table_changelog_missing_from_the_metadata_does_not_fail_the_assignment() -> None:
    # First start on a new cluster (make compose-test, about one run in five): the worker
    # creates its changelog topics just before the first rebalance, and the leader's cluster
    # metadata may not list one yet. Faust's assignor then skips the topic ("Ignoring missing
    # topic") and fails on the global table's changelog with a KeyError: the worker stays up,
    # healthy to its healthcheck, assigned nothing, forever.
    from faust.assignor.client_assignment import ClientAssignment

    import tables.fx_rates
    import tables.seller_profile  # noqa: F401

    globals_ = [t for t in app.tables.values() if t.is_global]
    assert globals_, "the app has global tables"
    present = globals_[0]._changelog_topic_name()
    assignments = {"member": ClientAssignment(actives={}, standbys={})}
    result = app.assignor._global_table_standby_assignments(assignments, {present: 4})
    # The table whose changelog is known gets its partitions; the others wait for the
    # rebalance that the topic's arrival in the metadata triggers.
    assert result["member"].actives[present] == [0, 1, 2, 3]
    for table in globals_[1:]:
        assert not result["member"].actives.get(table._changelog_topic_name())
