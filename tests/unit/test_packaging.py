"""The shipped package holds only the product: the wheel and the Docker image contain the
runtime packages, never the developer tools (``devtools/``), and the runtime imports only
what ``pyproject.toml`` declares."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("app", "agents", "tables", "dashboard")
#: Import names of runtime distributions whose import name differs from the project name.
IMPORT_NAMES = {
    "faust-streaming": "faust",
    "elasticsearch": "elasticsearch",
    "pydantic-settings": "pydantic_settings",
    "rocksdict": "rocksdict",
}


def _imports(package: str, *, skip: tuple[str, ...] = ()) -> set[str]:
    """Top-level module names imported anywhere in ``package`` (except the files ``skip``)."""
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        if str(path.relative_to(ROOT)) in skip:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        dist = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()
        names.add(IMPORT_NAMES.get(dist, dist.replace("-", "_")))
    return names


@pytest.mark.parametrize("package", RUNTIME)
def test_runtime_never_imports_devtools(package: str) -> None:
    # app/cli.py registers the developer verbs when devtools is importable (tested below).
    assert "devtools" not in _imports(package, skip=("app/cli.py",))


def test_cli_without_devtools_lists_the_verbs_and_says_why() -> None:
    """An installation without devtools/ (the wheel, the Docker image): every verb is still
    listed, and a developer verb fails with a clear message instead of a traceback."""
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'devtools' or name.startswith('devtools.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from app.cli import cli\n"
        "cli(sys.argv[1:])\n"
    )
    listed = subprocess.run(
        [sys.executable, "-c", blocker, "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert listed.returncode == 0, listed.stderr
    for verb in ("stack", "demo", "bench", "sample", "worker", "api", "dashboard"):
        assert f" {verb} " in listed.stdout
    refused = subprocess.run(
        [sys.executable, "-c", blocker, "stack", "up"], capture_output=True, text=True, cwd=ROOT
    )
    assert refused.returncode == 2
    assert "developer tool" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_runtime_imports_only_declared_dependencies() -> None:
    stdlib = set(sys.stdlib_module_names)
    ours = {*RUNTIME, "devtools"}
    used = set().union(*(_imports(p) for p in RUNTIME)) - stdlib - ours - {"__future__"}
    # mode is faust-streaming's own foundation (installed and versioned with it).
    undeclared = used - _declared() - {"mode"}
    assert not undeclared, f"imported by the runtime but not declared: {sorted(undeclared)}"


def test_keepa_is_not_a_runtime_dependency() -> None:
    # The keepa package is used by tests only (to check our client against it).
    assert "keepa" not in _declared()
    assert "keepa" not in set().union(*(_imports(p) for p in RUNTIME))


def test_wheel_contains_only_the_runtime(tmp_path: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to build the wheel (make setup installs it)"
    subprocess.run(
        [uv, "build", "--wheel", "-o", str(tmp_path), "-q", str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    # Package data the runtime reads (importlib.resources) ships too.
    assert "app/domain/fee_schedule/schedule.toml" in names
    packages = {t for t in tops if not t.endswith(".dist-info")}
    assert packages == set(RUNTIME)


def test_docker_image_copies_only_the_runtime() -> None:
    copies = re.findall(r"^COPY\s+(\S+)\s", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    sources = {c for c in copies if c not in ("pyproject.toml",)}
    assert sources == set(RUNTIME), sources


def test_cli_lists_every_verb() -> None:
    from typer.main import get_command

    from app.cli import cli

    verbs = set(get_command(cli).commands)  # type: ignore[attr-defined]
    assert {"stack", "demo", "bench", "sample", "worker", "api", "dashboard", "replay"} <= verbs
    assert {"watchlist", "alerts"} <= verbs
