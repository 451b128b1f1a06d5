"""A store that cannot be written never stops a run: the run completes, prints its report, warns once naming
the path, and exits with its own outcome; the report and the JSON say whether the session was saved."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys

from fanout.devserver import Fault

QUICK = ("pipeline", "--strategy", "parallel")


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("fanout: warning:")]


def test_a_file_where_the_sessions_go(fanout_cli, loopback_thread):
    server = loopback_thread
    fanout_cli.home.mkdir()
    blocker = fanout_cli.home / "sessions"
    blocker.write_text("not a folder")
    server.add_fault(Fault(status=400, message="rejected"), match=lambda r: "Summarise" in r.prompt)
    proc = fanout_cli.run("run", *QUICK, *fanout_cli.net(server), "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stderr  # the run's own outcome (partial), not a store error
    doc = json.loads(proc.stdout)
    assert doc["status"] == "partial" and doc["session_saved"] is False
    assert str(blocker) in doc["session_error"]
    [warning] = warnings(proc.stderr)
    assert "the session is not being saved" in warning and str(blocker) in warning
    assert sum(b["status"] == "done" for b in doc["branches"]) == 4

    md = fanout_cli.run("run", *QUICK, *fanout_cli.net(server))
    assert md.returncode == 0 and "**The session was not saved**" in md.stdout and str(blocker) in md.stdout
    assert blocker.read_text() == "not a folder"


def test_a_file_where_the_cache_goes(fanout_cli, loopback_thread):
    fanout_cli.home.mkdir()
    (fanout_cli.home / "cache").write_text("in the way")
    proc = fanout_cli.run("run", *QUICK, *fanout_cli.net(loopback_thread), "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    [warning] = warnings(proc.stderr)
    assert "response cache" in warning and str(fanout_cli.home / "cache" / "responses") in warning
    doc = json.loads(proc.stdout)
    assert doc["status"] == "ok" and doc["session_saved"] is True
    assert len(list(fanout_cli.sessions_dir.glob("*.jsonl"))) == 1


def test_a_damaged_cache_database(fanout_cli, loopback_thread):
    folder = fanout_cli.home / "cache" / "responses"
    folder.mkdir(parents=True)
    (folder / "cache.db").write_bytes(b"this is not SQLite\x00" * 400)
    proc = fanout_cli.run("run", *QUICK, *fanout_cli.net(loopback_thread), "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    [warning] = warnings(proc.stderr)
    assert str(folder) in warning and "running without it" in warning
    assert json.loads(proc.stdout)["status"] == "ok"


def test_a_full_disk(fanout_cli, loopback_thread):
    """Files may not grow past 24 KiB (RLIMIT_FSIZE, as a full disk would refuse them): the session stops being
    written part-way and the cache's writes fail; the run completes all the same and says so once each."""
    server = loopback_thread
    server.tokens = 120  # a session of about 70 KiB

    def small_files() -> None:
        os.umask(0o022)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (24 * 1024, 24 * 1024))

    proc = subprocess.run(
        [sys.executable, "-m", "fanout", "run", *QUICK, *fanout_cli.net(server), "--json"],
        env=fanout_cli.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        preexec_fn=small_files,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "ok" and all(len(b["text"].split()) == 120 for b in doc["branches"])
    [session] = list(fanout_cli.sessions_dir.glob("*.jsonl"))
    assert doc["session_saved"] is False and str(session) in doc["session_error"]
    assert "File too large" in doc["session_error"]
    found = warnings(proc.stderr)
    assert sum("the session is not being saved" in w and str(session) in w for w in found) == 1
    assert len(found) <= 2  # the session's and, at most, the cache's: once each, never once a write
    listed = json.loads(fanout_cli.run("sessions", "--json").stdout)
    assert [s["status"] for s in listed] == ["incomplete"]  # what it kept still lists (and resumes)
