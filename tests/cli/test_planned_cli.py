"""`fanout run` / `bench` / `sessions` / `replay` / `export` on a planned recipe, as a subprocess against the
loopback server playing the planner."""

from __future__ import annotations

import json

from fanout.devserver import Fault, PlanResponder, asks_for_follow_up

from test_cli import kill_when
from waves import FOLLOW_UP, WAVE_2, kinds

PLAN = json.dumps({"angles": [
    {"title": "Electrolyte chemistry", "brief": "Sulfides versus oxides.", "after": []},
    {"title": "Manufacturing at scale", "brief": "Who builds them.", "after": ["Electrolyte chemistry"]},
    {"title": "Market outlook", "brief": "When cars get them.", "after": ["Market outlook"]},
]})
IDS = ["electrolyte-chemistry", "manufacturing-at-scale", "market-outlook"]


def no_traceback(proc):
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr


def test_deep_research_runs_the_planned_angles_and_replays(fanout_cli, loopback_thread):
    loopback_thread.responder = PlanResponder(PLAN)
    doc = fanout_cli.json("run", "deep-research", *fanout_cli.net(loopback_thread), "--set",
                          "topic=solid-state batteries", "--json")
    assert doc["status"] == "ok" and doc["strategy"] == "hybrid"
    assert doc["plan"]["status"] == "done" and doc["plan"]["branches"] == IDS
    assert doc["plan"]["warnings"] == ["market-outlook: an angle cannot come after itself: dropped"]
    assert [b["id"] for b in doc["branches"]] == IDS and all(b["status"] == "done" for b in doc["branches"])
    assert doc["aggregate"]["status"] == "done" and doc["metrics"]["calls"] == 5
    planner = loopback_thread.requests[0]
    assert "solid-state batteries" in planner.prompt and "between 3 and 6" in planner.prompt

    listed = json.loads(fanout_cli.run("sessions", "--json").stdout)
    assert [(s["id"], s["branches"]) for s in listed] == [(doc["session_id"], 3)]
    loopback_thread.stop_thread()  # replay, export and import need no server
    replayed = fanout_cli.json("replay", doc["session_id"], "--headless", "--speed", "0", "--json")
    assert replayed["plan"] == doc["plan"] and replayed["branches"] == doc["branches"]
    out = fanout_cli.home.parent / "planned.json"
    assert fanout_cli.run("export", doc["session_id"], "--format", "json", "-o", str(out)).returncode == 0
    other = fanout_cli.with_home(fanout_cli.home.parent / "other")
    imported = other.run("import", str(out))
    assert imported.returncode == 0, imported.stderr
    again = other.json("replay", doc["session_id"], "--headless", "--speed", "0", "--json")
    assert again["plan"] == doc["plan"]


def test_no_usable_plan_exits_1_naming_the_planner_and_showing_its_text(fanout_cli, loopback_thread):
    loopback_thread.responder = PlanResponder("I would rather write a poem.", "Roses are red.")
    proc = fanout_cli.run("run", "deep-research", *fanout_cli.net(loopback_thread))
    no_traceback(proc)
    assert proc.returncode == 1
    assert "the planner gave no usable plan, even after one repair" in proc.stdout
    assert "It answered:\nRoses are red." in proc.stdout
    assert "plan failed: the planner gave no usable plan" in proc.stderr


def test_bench_plans_once_for_all_three(fanout_cli, loopback_thread):
    loopback_thread.responder = responder = PlanResponder(PLAN)
    proc = fanout_cli.run("bench", "deep-research", *fanout_cli.net(loopback_thread), "--json")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert responder.asked == 1
    doc = json.loads(proc.stdout)
    assert [r["calls"] for r in doc["rows"]] == [4, 4, 4]
    assert "The planner's call, made once and given to every strategy (not counted in their rows)" in proc.stderr
    assert "`market-outlook`: Market outlook" in proc.stderr


def test_bench_without_a_plan_exits_1_and_runs_no_strategy(fanout_cli, loopback_thread):
    loopback_thread.add_fault(Fault(status=400, message="no such model"), times=1)
    proc = fanout_cli.run("bench", "deep-research", *fanout_cli.net(loopback_thread))
    no_traceback(proc)
    assert proc.returncode == 1 and "fanout bench: the planner's call failed: 400" in proc.stderr, proc.stderr
    assert len(loopback_thread.requests) == 1


def test_resume_keeps_the_plan_and_asks_only_the_failed_angle(fanout_cli, loopback_thread):
    responder = loopback_thread.responder = PlanResponder(PLAN)
    loopback_thread.add_fault(Fault(status=400, message="rejected once"),
                              match=lambda r: "focusing on: Market outlook" in r.prompt)
    first = fanout_cli.run("run", "deep-research", *fanout_cli.net(loopback_thread), "--strategy", "parallel",
                           "--json")
    assert first.returncode == 1, first.stderr
    before = json.loads(first.stdout)
    assert [b["status"] for b in before["branches"]] == ["done", "done", "failed"]
    assert responder.asked == 1
    seen = len(loopback_thread.requests)

    doc = fanout_cli.json("resume", before["session_id"], "--json", "--cache", "off")
    assert doc["status"] == "ok" and doc["resumed"]["previous"] == "partial"
    assert responder.asked == 1  # the session's plan is kept: the planner is not asked again
    asked_again = loopback_thread.requests[seen:]
    assert len(asked_again) == 2  # the failed angle, then the synthesis
    assert doc["plan"]["branches"] == IDS and doc["plan"]["status"] == "done"
    assert [b["id"] for b in doc["branches"] if b.get("kept")] == IDS[:2]
    assert all(b["status"] == "done" for b in doc["branches"]) and doc["aggregate"]["status"] == "done"



def test_depth_is_checked_before_anything_runs(fanout_cli):
    for args, expected in [
        (("run", "deep-research", "--depth", "0"), "--depth must be between 1 and 10, not 0"),
        (("bench", "deep-research", "--depth", "11"), "--depth must be between 1 and 10, not 11"),
        (("run", "research", "--depth", "2"), "--depth 2: recipe 'research' has no [plan] table"),
    ]:
        proc = fanout_cli.run(*args)
        no_traceback(proc)
        assert proc.returncode == 2 and expected in proc.stderr, (args, proc.stderr)


def session_events(folder) -> list[dict]:
    """The events of the one session in `folder` so far ([] until there is exactly one)."""
    files = list(folder.glob("*.jsonl")) if folder.is_dir() else []
    if len(files) != 1:
        return []
    lines = files[0].read_text(encoding="utf-8", errors="replace").splitlines()[1:]
    return [json.loads(line) for line in lines if line.strip().endswith("}")]


def test_depth_2_runs_two_waves_says_so_and_replays_them(fanout_cli, loopback_thread):
    loopback_thread.responder = PlanResponder(PLAN, follow_ups=[FOLLOW_UP])
    proc = fanout_cli.run("run", "deep-research", *fanout_cli.net(loopback_thread), "--set",
                          "topic=solid-state batteries", "--depth", "2", "--json")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(b["id"], b["wave"], b["status"]) for b in doc["branches"]] == [
        *((bid, 1, "done") for bid in IDS), *((bid, 2, "done") for bid in WAVE_2)]
    assert [w["branches"] for w in doc["plan"]["waves"]] == [IDS, WAVE_2]
    assert doc["plan"]["stopped"] == {"waves": 2, "reason": "depth 2 reached"} and doc["metrics"]["calls"] == 8
    assert "plan-2: planning wave 2 from wave 1's findings" in proc.stderr
    assert "plan-2: wave 2: 2 branches: sulfide-stability, factory-costs" in proc.stderr
    assert "waves: stopped after wave 2: depth 2 reached" in proc.stderr
    listed = json.loads(fanout_cli.run("sessions", "--json").stdout)
    assert [(s["id"], s["branches"]) for s in listed] == [(doc["session_id"], 5)]  # every wave's branches
    loopback_thread.stop_thread()
    replayed = fanout_cli.json("replay", doc["session_id"], "--headless", "--speed", "0", "--json")
    assert replayed["plan"] == doc["plan"] and replayed["branches"] == doc["branches"]
    out = fanout_cli.home.parent / "waves.json"
    assert fanout_cli.run("export", doc["session_id"], "--format", "json", "-o", str(out)).returncode == 0
    other = fanout_cli.with_home(fanout_cli.home.parent / "other")
    assert other.run("import", str(out)).returncode == 0
    assert other.json("replay", doc["session_id"], "--headless", "--speed", "0", "--json")["plan"] == doc["plan"]


def test_resume_after_sigkill_between_waves_plans_the_next_wave(fanout_cli, loopback_thread):
    server = loopback_thread
    server.responder = PlanResponder(PLAN, follow_ups=[FOLLOW_UP])
    server.add_fault(Fault(delay=120), match=asks_for_follow_up)  # wave 1 ends; its follow-up planner hangs
    proc = fanout_cli.popen("run", "deep-research", *fanout_cli.net(server), "--depth", "2", "--json")
    kill_when(proc, lambda: any(e["type"] == "plan_started" and e.get("wave") == 2
                                for e in session_events(fanout_cli.sessions_dir)), what="wave 2's planner started")
    events = session_events(fanout_cli.sessions_dir)
    assert sorted(e["branch"] for e in events if e["type"] == "branch_done") == sorted(IDS)
    session_id = next(e["session_id"] for e in events if e["type"] == "run_started")
    server.clear_faults()
    assert fanout_cli.run("cache", "clear").returncode == 0
    seen = len(server.requests)

    # --depth takes it one wave further than it was started with; wave 3's planner repeats wave 2: covered.
    doc = fanout_cli.json("resume", session_id, "--json", "--depth", "3")
    asked = kinds(server.requests[seen:])
    assert asked[0] == "follow-up" and sorted(asked[1:3]) == ["Factory costs", "Sulfide stability"]
    assert asked[3:] == ["follow-up", "aggregate"]
    assert doc["status"] == "ok" and doc["resumed"] == {"previous": "incomplete", "kept": IDS}
    assert [b["id"] for b in doc["branches"]] == IDS + WAVE_2 and all(b["status"] == "done" for b in doc["branches"])
    assert [w["status"] for w in doc["plan"]["waves"]] == ["done", "done", "done"]
    assert doc["plan"]["stopped"] == {"waves": 2, "reason": "covered: the follow-up planner (wave 3) found no new "
                                                            "angle to research"}
    replayed = fanout_cli.json("replay", session_id, "--headless", "--speed", "0", "--json")
    assert replayed["plan"] == doc["plan"] and replayed["branches"] == doc["branches"]


def test_resume_after_sigkill_in_the_second_wave_keeps_its_plan(fanout_cli, loopback_thread):
    server = loopback_thread
    server.responder = responder = PlanResponder(PLAN, follow_ups=[FOLLOW_UP])
    server.add_fault(Fault(delay=120), match=lambda r: "focusing on: Factory costs." in r.prompt)
    proc = fanout_cli.popen("run", "deep-research", *fanout_cli.net(server), "--depth", "3", "--json")
    kill_when(proc, lambda: sum(e["type"] == "branch_done" for e in session_events(fanout_cli.sessions_dir)) == 4,
              what="wave 1 and one branch of wave 2 done")
    session_id = next(e["session_id"] for e in session_events(fanout_cli.sessions_dir) if e["type"] == "run_started")
    server.clear_faults()
    responder.follow_ups = ['{"angles": []}']  # were wave 2 planned again, it would now be "covered"
    seen = len(server.requests)

    doc = fanout_cli.json("resume", session_id, "--json", "--cache", "off")
    # Wave 2's plan is the session's: only its unfinished branch runs, then wave 3's planner (covered: no wave 3).
    assert kinds(server.requests[seen:]) == ["Factory costs", "follow-up", "aggregate"]
    assert [b["id"] for b in doc["branches"]] == IDS + WAVE_2 and doc["status"] == "ok"
    assert [b["id"] for b in doc["branches"] if b.get("kept")] == IDS + ["sulfide-stability"]
    assert [w["branches"] for w in doc["plan"]["waves"]] == [IDS, WAVE_2, []]
    assert doc["plan"]["stopped"]["reason"].startswith("covered")
