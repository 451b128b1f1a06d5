"""`fanout resume`: an interrupted, cancelled or partly failed session goes on, in the same session.

The loopback server counts every request by prompt, so "taken from the session, not asked again" means the
server saw no request for that branch during the resume, with the cache cleared.
"""

from __future__ import annotations

import json

from fanout.devserver import Fault
from scripted import task_of

from test_cli import RESEARCH_IDS, kill_when, no_traceback, session_lines

TITLES = {"hardware": "Hardware progress", "software": "Software and algorithm", "commercial": "Commercial adoption",
          "security": "Security implications", "academic": "Academic research"}


def asked(requests) -> list[str]:
    """The branch each request was for (by its title in the prompt), "aggregate" for the rest."""
    found = []
    for r in requests:
        first = task_of(r.prompt)
        found.append(next((bid for bid, title in TITLES.items() if title in first), "aggregate"))
    return found


def part_one_texts(path) -> dict[str, str]:
    events = [json.loads(line) for line in path.read_text().splitlines()[1:] if line.strip()]
    return {e["branch"]: e["text"] for e in events if e["type"] == "branch_done"}


def test_resume_after_sigkill_asks_only_what_did_not_finish(fanout_cli, loopback_thread):
    server = loopback_thread
    # commercial hangs, so academic (after all four) waits: three branches finish, then the process is killed.
    server.add_fault(Fault(delay=120), match=lambda r: TITLES["commercial"] in r.prompt)
    proc = fanout_cli.popen("run", "research", *fanout_cli.net(server), "--json")
    path = kill_when(proc, lambda: session_lines(fanout_cli.sessions_dir, "branch_done", 3),
                     what="three branches done")
    before = part_one_texts(path)
    assert set(before) == {"hardware", "software", "security"}
    session_id = path.stem
    server.clear_faults()
    assert fanout_cli.run("cache", "clear").returncode == 0  # nothing kept can come from the cache
    seen = len(server.requests)

    proc = fanout_cli.run("resume", session_id, "--json")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert sorted(asked(server.requests[seen:])) == ["academic", "aggregate", "commercial"]
    assert doc["session_id"] == session_id and doc["status"] == "ok" and doc["session_saved"]
    assert [b["id"] for b in doc["branches"]] == RESEARCH_IDS
    assert all(b["status"] == "done" and b["text"] for b in doc["branches"])
    assert {b["id"]: b["text"] for b in doc["branches"] if b.get("kept")} == before  # as they were
    assert doc["resumed"] == {"previous": "incomplete", "kept": ["hardware", "software", "security"]}
    academic = next(r for r in server.requests[seen:] if TITLES["academic"] in task_of(r.prompt))
    assert before["hardware"][:40] in academic.prompt  # a later step is shown the kept text
    assert doc["aggregate"]["status"] == "done" and doc["metrics"]["failed"] == 0

    # One session, listed and replayed as a whole: the same document.
    listed = json.loads(fanout_cli.run("sessions", "--json").stdout)
    assert [(s["id"], s["status"], s["branches"]) for s in listed] == [(session_id, "ok", 5)]
    replayed = fanout_cli.json("replay", session_id, "--headless", "--speed", "0", "--json")
    assert replayed["branches"] == doc["branches"] and replayed["aggregate"] == doc["aggregate"]
    assert replayed["metrics"] == doc["metrics"] and replayed["resumed"] == doc["resumed"]


def test_resume_a_partly_failed_session_runs_only_the_failed_branch(fanout_cli, loopback_thread):
    server = loopback_thread
    server.add_fault(Fault(status=400, message="rejected once"), match=lambda r: TITLES["software"] in r.prompt)
    first = fanout_cli.run("run", "research", "--strategy", "parallel", *fanout_cli.net(server), "--json")
    assert first.returncode == 1, first.stderr
    session_id = json.loads(first.stdout)["session_id"]
    seen = len(server.requests)
    doc = fanout_cli.json("resume", session_id, "--json", "--cache", "off")
    assert sorted(asked(server.requests[seen:])) == ["aggregate", "software"]
    assert doc["status"] == "ok" and doc["resumed"]["previous"] == "partial"
    assert [b["id"] for b in doc["branches"] if not b.get("kept")] == ["software"]

    again = fanout_cli.run("resume", session_id)  # finished ok now: nothing to resume, said plainly
    assert again.returncode == 2 and "finished ok: nothing to resume" in again.stderr, again.stderr
    no_traceback(again)
    missing = fanout_cli.run("resume", "20990101-000000-abcdef")
    assert missing.returncode == 2 and "no session '20990101-000000-abcdef'" in missing.stderr
