"""tests/env_guard.py: a test suite run by pytest in this process (pytester) with the guard
loaded as it is by tests/conftest.py."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester"]

VAR = "ARBITRAGE_ENV_GUARD_PROBE"


@pytest.fixture(autouse=True)
def _no_probe() -> None:
    assert VAR not in os.environ


def run(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest("-p", "tests.env_guard", "-p", "no:cacheprovider", "-p", "no:asyncio")


def test_a_module_that_changes_the_environment_at_import_fails_to_collect(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_leaky_import=f"""
        import os
        os.environ.setdefault("{VAR}", "memory://")

        def test_something():
            pass
        """,
        test_other="""
        def test_other():
            pass
        """,
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_leaky_import.py*",
            f"*test_leaky_import.py changed os.environ*{VAR} (set)*",
        ]
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED  # nothing runs after it
    assert VAR not in os.environ  # and the change was taken back


def test_a_test_that_changes_the_environment_errors_and_the_next_one_does_not_see_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        f"""
        import os

        def test_leaks():
            os.environ["{VAR}"] = "hunter2-secret"
            os.environ.pop("HOME", None)

        def test_next_sees_the_environment_as_before():
            assert "{VAR}" not in os.environ
            assert "HOME" in os.environ

        def test_monkeypatch_is_fine(monkeypatch):
            monkeypatch.setenv("{VAR}", "x")
            monkeypatch.delenv("HOME")
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks*",
            f"*test_leaks changed os.environ*: {VAR} (set), HOME (removed)*",
        ]
    )
    assert "hunter2" not in result.stdout.str()  # names only: values may be secrets


def test_a_wider_scoped_fixture_that_changes_the_environment_is_caught(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        f"""
        import os
        import pytest

        @pytest.fixture(scope="module")
        def configured():
            os.environ["{VAR}"] = "1"
            yield
            os.environ.pop("{VAR}", None)

        def test_uses_it(configured):
            pass

        def test_runs_while_the_fixture_is_still_up(configured):
            assert "{VAR}" not in os.environ
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([f"*test_uses_it changed os.environ*{VAR} (set)*"])


def test_a_clean_suite_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os

        def test_reads_only():
            assert os.environ.get("PATH")
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_a_hook_that_changes_the_environment_during_collection_stops_the_run(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        f"""
        import os

        def pytest_collection_modifyitems(items):
            os.environ["{VAR}"] = "1"
        """
    )
    pytester.makepyfile("def test_never_runs(): pass")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*the test collection changed os.environ*{VAR} (set)*"])
    assert VAR not in os.environ
