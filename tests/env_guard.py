"""A pytest plugin (loaded by tests/conftest.py): no test may change the process environment
that other tests see.

* Import time: every collector (a test module, or a directory whose conftest.py is loaded
  while collecting) that leaves ``os.environ`` different from how it found it fails to
  collect, naming the variables; the environment is put back. The whole collection is also
  compared with the environment at ``pytest_configure`` (changes made by other hooks).
* Run time: each test's setup, call and teardown together (fixtures of every scope included,
  after ``monkeypatch`` has undone its changes) must leave ``os.environ`` as it was before the
  setup; otherwise the test errors at teardown, naming the variables, and the environment is
  put back so the change cannot leak into the next test.

Only variable names are reported, never values (the environment holds secrets).
Use ``monkeypatch.setenv`` or pass ``Settings`` objects explicitly instead.

PYTEST_DONT_REWRITE (no asserts here; tests/conftest.py imports it before registering it)
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager

import pytest

#: Set and removed by pytest itself around every test phase.
_PYTEST_OWN = frozenset({"PYTEST_CURRENT_TEST"})
_BASELINE = pytest.StashKey[dict[str, str]]()
_BEFORE_TEST = pytest.StashKey[dict[str, str]]()


def environment_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """``NAME (set|removed|changed)`` for every variable that differs, sorted by name."""
    changes = []
    for name in sorted((before.keys() | after.keys()) - _PYTEST_OWN):
        if name not in before:
            changes.append(f"{name} (set)")
        elif name not in after:
            changes.append(f"{name} (removed)")
        elif before[name] != after[name]:
            changes.append(f"{name} (changed)")
    return changes


def restore_environment(snapshot: Mapping[str, str]) -> None:
    for name in set(os.environ) - set(snapshot) - _PYTEST_OWN:
        del os.environ[name]
    for name, value in snapshot.items():
        if name not in _PYTEST_OWN and os.environ.get(name) != value:
            os.environ[name] = value


@contextmanager
def preserved_environment() -> Iterator[None]:
    """Whatever runs inside leaves ``os.environ`` as it found it (for libraries that write to
    it when imported)."""
    before = dict(os.environ)
    try:
        yield
    finally:
        restore_environment(before)


def _message(where: str, changes: list[str]) -> str:
    return (
        f"{where} changed os.environ, which every other test then sees: {', '.join(changes)}. "
        "Use monkeypatch.setenv (undone after the test) or pass Settings explicitly."
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_BASELINE] = dict(os.environ)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    before = dict(os.environ)
    report = yield
    changes = environment_changes(before, os.environ)
    if changes:
        restore_environment(before)
        report.outcome = "failed"
        report.longrepr = _message(f"collecting {collector.nodeid or collector.path}", changes)
    return report


def pytest_collection_finish(session: pytest.Session) -> None:
    baseline = session.config.stash[_BASELINE]
    changes = environment_changes(baseline, os.environ)
    if changes:
        restore_environment(baseline)
        raise pytest.UsageError(_message("the test collection", changes))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    item.stash[_BEFORE_TEST] = dict(os.environ)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    before = item.stash.get(_BEFORE_TEST, None)
    if call.when == "teardown" and before is not None:
        changes = environment_changes(before, os.environ)
        if changes:
            restore_environment(before)
            if report.failed:  # keep the teardown's own error, add ours
                report.sections.append(("os.environ", _message(item.nodeid, changes)))
            else:
                report.outcome = "failed"
                report.longrepr = _message(item.nodeid, changes)
    return report
