"""A llama-cpp-python that is missing or crashes is said in words, exit 2, before any run starts — never a
process that vanishes in a segfault. The crash is a real one: a stand-in llama_cpp that kills itself with SIGSEGV."""

from __future__ import annotations

import pytest

from fanout.core.errors import UserError
from fanout.providers.embedded_check import ensure_embedded_works


@pytest.fixture
def stand_in(tmp_path):
    def make(body: str):
        (tmp_path / "fake" / "llama_cpp").mkdir(parents=True)
        (tmp_path / "fake" / "llama_cpp" / "__init__.py").write_text(body)
        return str(tmp_path / "fake")
    return make


def test_a_crashing_llama_cpp_is_named_with_its_fix(fanout_cli, stand_in):
    path = stand_in("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    proc = fanout_cli.run("run", "research", "--cache", "off", extra_env={"PYTHONPATH": path})
    assert proc.returncode == 2, proc.stderr
    assert "llama-cpp-python crashes on this machine (SIGSEGV" in proc.stderr
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in proc.stderr and "Traceback" not in proc.stderr
    assert not (fanout_cli.home / "sessions").exists() or not list((fanout_cli.home / "sessions").iterdir())


def test_a_missing_llama_cpp_says_how_to_install_it(fanout_cli, stand_in):
    path = stand_in("raise ModuleNotFoundError(\"No module named 'llama_cpp'\")\n")
    proc = fanout_cli.run("run", "research", "--cache", "off", extra_env={"PYTHONPATH": path})
    assert proc.returncode == 2
    assert "needs llama-cpp-python, which is not installed" in proc.stderr and "--base-url" in proc.stderr


def test_the_real_model_passes_once_and_is_remembered(tmp_path, monkeypatch):
    ensure_embedded_works("smollm2", tmp_path)  # loads the model in a child and decodes a token
    markers = list(tmp_path.glob("llama-ok-*"))
    assert len(markers) == 1 and "llama_cpp" in markers[0].read_text()

    def no_child(*a, **kw):
        raise AssertionError("checked again")

    monkeypatch.setattr("fanout.providers.embedded_check.subprocess.run", no_child)
    ensure_embedded_works("smollm2", tmp_path)  # remembered: no second child


def test_a_model_that_cannot_load_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="the embedded model cannot run: .*model file not found"):
        ensure_embedded_works(str(tmp_path / "missing.gguf"), tmp_path)
