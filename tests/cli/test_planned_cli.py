"""`fanout run` / `bench` / `sessions` / `replay` / `export` on a planned recipe, as a subprocess against the
loopback server playing the planner."""

from __future__ import annotations

import json

from fanout.devserver import Fault, PlanResponder

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
