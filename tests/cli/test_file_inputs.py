"""Inputs from files through the real command: `--set NAME=@PATH`, `@-`, and a recipe's `files` glob; every bad
file is a message naming the path and the input, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

DOC = "# Notes\n\n## Water\n\nThe spring ran dry.\n\n## Harvest\n\nWheat was down 30 %.\n"


def bad(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


@pytest.mark.parametrize("case", ["missing", "directory", "not-utf8", "binary", "too-large"])
def test_a_bad_file_input_names_the_path_and_the_input(fanout_cli, tmp_path, case):
    path = tmp_path / f"{case}.txt"
    if case == "directory":
        path.mkdir()
    elif case == "not-utf8":
        path.write_bytes("caf\xe9 latin-1".encode("latin-1"))
    elif case == "binary":
        path.write_bytes(b"PK\x03\x04\x00\x00\x00")
    elif case == "too-large":
        path.write_text("x" * 3000)
        fanout_cli.home.mkdir(parents=True)
        (fanout_cli.home / "config.toml").write_text("[inputs]\nmax_file_mb = 0.002\n")
    expected = {"missing": "no such file", "directory": "is a directory", "not-utf8": "not UTF-8 text",
                "binary": "a binary file", "too-large": "3,000 bytes, above the 2,097-byte limit"}[case]
    proc = fanout_cli.run("run", "summarize", "--set", f"doc=@{path}", "--cache", "off")
    bad(proc, str(path), "input 'doc'", expected)


def test_a_file_input_is_read_into_the_run_and_split_into_sections(fanout_cli, loopback_thread, tmp_path):
    doc = tmp_path / "notes.md"
    doc.write_text(DOC)
    out = fanout_cli.json("run", "summarize", "--set", f"doc=@{doc}", *fanout_cli.net(loopback_thread), "--json")
    assert out["inputs"]["doc"] == DOC and out["status"] == "ok"
    assert [b["title"] for b in out["branches"]] == ["Section: Water", "Section: Harvest"]
    prompts = [r.prompt for r in loopback_thread.requests]
    assert any("Section 2 of 2: Harvest" in p and "Wheat was down 30 %." in p for p in prompts)


def test_standard_input_is_an_input(fanout_cli, loopback_thread):
    proc = subprocess.run(
        [sys.executable, "-m", "fanout", "run", "summarize", "--set", "doc=@-", *fanout_cli.net(loopback_thread),
         "--json"],
        input=DOC.replace("Water", "Fire"), env=fanout_cli.env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["branches"][0]["title"] == "Section: Fire"


def test_at_at_is_a_literal_at_sign(fanout_cli, loopback_thread):
    out = fanout_cli.json("run", "research", "--set", "topic=@@home", *fanout_cli.net(loopback_thread), "--json")
    assert out["inputs"]["topic"] == "@home"


def test_a_code_review_works_on_a_file(fanout_cli, loopback_thread, tmp_path):
    code = tmp_path / "app.py"
    code.write_text("def handler(req):\n    return eval(req.body)\n")
    out = fanout_cli.json("run", "code-review", "--set", f"code=@{code}", *fanout_cli.net(loopback_thread), "--json")
    assert out["status"] == "ok"
    assert any("return eval(req.body)" in r.prompt for r in loopback_thread.requests)


def test_files_glob_one_branch_per_file_and_checks_each_file(fanout_cli, loopback_thread, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("alpha notes")
    (notes / "b.md").write_text("beta notes")
    out = fanout_cli.json("run", "digest", "--set", f"docs={notes}/*.md", *fanout_cli.net(loopback_thread), "--json")
    assert [b["id"] for b in out["branches"]] == ["file.1", "file.2"]
    assert any(f"File: {notes}/b.md" in r.prompt and "beta notes" in r.prompt for r in loopback_thread.requests)
    (notes / "c.md").write_bytes(b"\xff\xfe bad")
    bad(fanout_cli.run("run", "digest", "--set", f"docs={notes}/*.md", "--cache", "off"),
        f"{notes}/c.md", "not UTF-8 text", "branches[0] (id 'file').files")
    bad(fanout_cli.run("run", "digest", "--set", f"docs={notes}/*.txt", "--cache", "off"),
        f"{notes}/*.txt", "matches no file", "branches[0] (id 'file').files")
