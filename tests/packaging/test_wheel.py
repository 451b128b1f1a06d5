"""The wheel a user would install: built from this tree, installed non-editable into a fresh virtual environment
with its declared dependencies, and used from there — `fanout --version`, `fanout recipes`, a headless run, the
app in a real terminal. Nothing of the checkout is importable from that environment (it runs in another folder).

llama-cpp-python comes from the portable wheel `scripts/setup` keeps (pinned to the version it built), so the
install never falls back to a native build; every other dependency comes from the package index as for a user.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from terminal import Tmux

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(os.environ.get("FANOUT_WHEELHOUSE") or Path.home() / ".cache/fanout/portable-wheels")
LLAMA = re.search(r"^LLAMA_VERSION=(\S+)", (ROOT / "scripts/setup").read_text(), re.M).group(1)


def run(*args, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy of the files git knows (tracked, or new and not ignored), as from a clean clone: an
    # in-tree build/ left by an earlier build would otherwise slip stale modules into the wheel.
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    files = run("git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard").stdout.splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src))
    return next(out.glob("fanout-*.whl"))


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    if not list(WHEELHOUSE.glob(f"llama_cpp_python-{LLAMA}-*.whl")):
        pytest.fail(f"no portable llama-cpp-python {LLAMA} wheel in {WHEELHOUSE}: run scripts/setup first")
    env_dir = tmp_path_factory.mktemp("venv") / "v"
    run(sys.executable, "-m", "venv", str(env_dir))
    constraints = env_dir / "constraints.txt"
    constraints.write_text(f"llama-cpp-python=={LLAMA}\n")
    run(str(env_dir / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
        "--find-links", str(WHEELHOUSE), "-c", str(constraints), str(wheel))
    return env_dir


def test_the_wheel_holds_every_module_and_data_file_of_the_tree(wheel):
    """Every source and data file under each mapped folder, at its installed path (tui/screens/run.py ->
    fanout/tui/screens/run.py): a subpackage missing from pyproject's list shows up here by name."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for pkg, folder in _package_dirs().items():
        if pkg.count(".") > 1:
            continue  # nested mappings are covered by their parent's walk
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".toml", ".txt", ".tcss"} and "__pycache__" not in path.parts:
                expected.add("/".join([*pkg.split("."), *path.relative_to(ROOT / folder).parts]))
    assert expected - names == set()


def _package_dirs() -> dict[str, str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def test_installed_from_the_wheel_fanout_works(venv, tmp_path, loopback_thread):
    fanout = str(venv / "bin/fanout")
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "FANOUT_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)}
    where = run(str(venv / "bin/python"), "-c", "import fanout, fanout.tui.screens.run; print(fanout.__file__)",
                cwd=tmp_path, env=env)
    assert where.stdout.startswith(str(venv)), where.stdout  # the installed copy, not the checkout
    assert run(fanout, "--version", cwd=tmp_path, env=env).stdout.startswith("fanout ")
    listed = run(fanout, "recipes", cwd=tmp_path, env=env).stdout
    assert "research" in listed and "invalid" not in listed
    doc = json.loads(run(fanout, "run", "research", "--base-url", f"{loopback_thread.base_url}/v1", "--model", "m",
                         "--json", cwd=tmp_path, env=env).stdout)
    assert doc["status"] == "ok" and len(doc["branches"]) == 5
    assert run(str(venv / "bin/python"), "-m", "fanout", "--version", cwd=tmp_path, env=env).stdout.startswith("fanout ")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_installed_app_opens_in_a_terminal_and_quits(venv, tmp_path, loopback_thread):
    loopback_thread.token_interval, loopback_thread.tokens = 0.02, 30
    tmux = Tmux(f"fanout-wheel-{os.getpid()}")
    tmux("new-session", "-d", "-s", tmux.name, "-x", "120", "-y", "40", "bash --norc --noprofile")
    try:
        tmux("send-keys", "-t", tmux.name, f"cd {tmp_path} && export FANOUT_HOME={tmp_path}/home PS1='READY$ '",
             "Enter")
        tmux.wait(lambda s: "READY$" in s, "the shell")
        tmux("send-keys", "-t", tmux.name, f"{venv}/bin/fanout tui research --run --base-url {loopback_thread.base_url}/v1 "
             "--model m; echo EXIT=$?", "Enter")
        tmux.wait(lambda s: "research · hybrid · custom/m" in s, "the run screen", timeout=60)
        tmux("send-keys", "-t", tmux.name, "C-q")
        screen = tmux.wait(lambda s: re.search(r"^EXIT=\d+", s, re.M) is not None, "the app to exit")
        assert re.search(r"^EXIT=0$", screen, re.M), screen
    finally:
        tmux("kill-server")
