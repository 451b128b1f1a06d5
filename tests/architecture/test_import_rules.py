"""The import rules of pyproject.toml's [tool.importlinter] contracts, checked on the source tree.

The repository keeps the layers in top-level folders that install as `fanout.*` (the package-dir mapping), so
the checker is pointed at a copy of the tree laid out as installed: the same files the wheel would hold.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def installed_layout(target: Path) -> Path:
    """Copies every mapped folder to where it lands when installed (fanout.tui -> fanout/tui)."""
    for package, folder in sorted(PACKAGE_DIRS.items(), key=lambda kv: kv[0].count(".")):
        dest = target.joinpath(*package.split("."))
        shutil.copytree(ROOT / folder, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.toml", "*.txt", "*.tcss"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "pyproject.toml", "--no-cache"], cwd=tree,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)


def test_every_contract_is_kept(tmp_path):
    proc = lint(installed_layout(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_every_package_is_in_a_layer():
    """A new top-level package must take its place in the layers (or be declared apart), or it is unchecked."""
    contracts = {c["id"]: c for c in PYPROJECT["tool"]["importlinter"]["contracts"]}
    layered = set(contracts["layers"]["layers"]) | set(contracts["devserver-apart"]["source_modules"])
    top = {p for p in PACKAGE_DIRS if p.count(".") == 1}
    assert top - layered == {"fanout.prompts"}  # recipes are data: nothing to import


@pytest.mark.parametrize(
    "module, line",
    [
        ("fanout/providers/leak.py", "from fanout.strategies import engine\n"),  # a provider importing the engine
        ("fanout/tui/leak.py", "from fanout.strategies.engine import Engine\n"),  # a front end reaching in
        ("fanout/wiring/leak.py", "from fanout.cli import main\n"),  # something importing the CLI
        ("fanout/strategies/leak.py", "from fanout.devserver import LoopbackServer\n"),  # the runtime on a dev tool
    ],
)
def test_a_broken_rule_is_caught(tmp_path, module, line):
    tree = installed_layout(tmp_path)
    (tree / module).write_text(line)
    proc = lint(tree)
    assert proc.returncode != 0 and "BROKEN" in proc.stdout, proc.stdout
