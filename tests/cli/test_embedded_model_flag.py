"""`--model` on the embedded provider: the shipped model's name, or a path to a GGUF file that is then loaded;
a path with no file is bad input (exit 2) naming the path and the flag. A real subprocess, as in test_cli.py."""

from __future__ import annotations

import pytest

from fanout.providers.local import resolve_model_path


def bad(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def test_a_model_path_with_no_file_is_bad_input_naming_the_path_and_the_flag(fanout_cli):
    err = bad(fanout_cli.run("run", "research", "--model", "/nonexistent.gguf"))
    assert "--model /nonexistent.gguf" in err and "no GGUF file at /nonexistent.gguf" in err
    assert fanout_cli.run("sessions", "--json").stdout.strip() == "[]"  # nothing ran


def test_bench_across_models_on_the_embedded_provider_names_the_missing_one(fanout_cli):
    err = bad(fanout_cli.run("bench", "research", "--models", "small,big", "--strategy", "parallel"))
    assert "--models small,big" in err and "no GGUF file at" in err and "small" in err


@pytest.mark.slow  # runs the embedded model
def test_another_gguf_path_is_the_model_that_runs(fanout_cli, tmp_path):
    """The same weights under another file name: the decoder names its model after the file it loaded, so the
    branches' model is that file's, not the shipped one's."""
    other = tmp_path / "other-name.gguf"
    other.symlink_to(resolve_model_path("smollm2"))
    doc = fanout_cli.json("run", "research", "--strategy", "parallel", "--model", str(other), "--max-tokens", "4",
                          "--cache", "off", "--json", timeout=300)
    assert doc["status"] == "ok" and doc["model"] == str(other)
    assert {b["metrics"]["model"] for b in doc["branches"]} == {"other-name"}
