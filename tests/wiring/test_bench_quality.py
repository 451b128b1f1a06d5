"""The quality columns measured on real runs over HTTP: a server whose answers overlap when a prompt holds no
earlier output and differ when it does, which is the claim the comparison exists to test, so the figures must show it."""

from __future__ import annotations

import re

from fanout.devserver.texts import default_text
from fanout.frontends.compare import table
from fanout.wiring.bench import bench, to_json
from fanout.wiring.launch import RunOptions

SHARED = ["Qubit counts doubled to 1,000 in 2025", "Error correction crossed the threshold",
          "Venture funding reached two billion dollars"]
SYNTHESIS = "1. Overall state\nGrowing.\n\n3. Contradictions or tensions between findings\n- counts differ\n\n4. What is missing\n- costs"


def synthesis(prompt: str) -> bool:
    return "Synthesise the research reports" in prompt  # the aggregate's task, after the reports


def responder(req) -> str:
    """What a model does in the story behind the comparison: alone, every angle finds the same headline facts; shown what
    earlier steps covered, it finds something else."""
    prompt = req.prompt
    if synthesis(prompt):
        distinct = {line for line in prompt.splitlines() if line.startswith("- ")}
        return SYNTHESIS + "\n" + "detail " * len(distinct)  # the more the reports found, the longer
    angle = re.search(r"focusing on: (.*?)\.\n", prompt).group(1)
    saw_earlier = "Previously covered angles" in prompt or "Context from the steps" in prompt
    findings = [default_text(f"{angle} {k}", tokens=4) for k in range(3)] if saw_earlier else SHARED
    return "\n".join(f"- {f}" for f in findings)


async def test_parallel_repeats_more_than_hybrid_which_repeats_more_than_sequential(loopback, tmp_path, monkeypatch):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path))
    loopback.responder = responder
    options = RunOptions(recipe="research", base_url=f"{loopback.base_url}/v1", model="m")
    [rows] = await bench(options)
    by = {r.strategy: r for r in rows}
    assert {s: (r.findings, r.distinct) for s, r in by.items()} == {
        "sequential": (15, 15),  # only the first step was alone
        "parallel": (15, 3),  # all five alone: the same three findings five times
        "hybrid": (15, 9),  # hardware, software and commercial alone; security and academic saw their deps
    }
    assert by["parallel"].redundancy == 0.8 > by["hybrid"].redundancy == 0.4 > by["sequential"].redundancy == 0.0
    assert all(r.contradictions == 1 for r in rows)
    assert by["parallel"].overlap["hardware"]["software"] == 1.0 and by["sequential"].overlap["security"]["academic"] == 0.0
    text = table(rows)
    assert "Least redundant: sequential (0 %" in text and "Redundancy" in text
    doc = to_json([rows], options)
    assert doc["least_redundant"] == "sequential"
    assert [r["redundancy"] for r in doc["rows"]] == [0.0, 0.8, 0.4]
    assert doc["rounds"][0][1]["overlap"]["academic"]["hardware"] == 1.0


def judging_responder(req) -> str:
    """The research runs as above; as a judge, the longer answer wins every criterion."""
    if not req.prompt.startswith("Two answers"):
        return responder(req)
    answers = re.findall(r"<<<report \w+ id=(\w) title=[^>]*>>>\n(.*?)\n<<<end", req.prompt, re.S)
    best = max(answers, key=lambda a: len(a[1]))[0]
    return "\n".join(f"{c}: {best}" for c in ("coverage", "specificity", "coherence", "contradictions", "overall"))


def test_bench_judge_scores_each_strategy_and_counts_its_cost_apart(loopback_thread, fanout_cli):
    loopback_thread.responder = judging_responder
    doc = fanout_cli.json("bench", "research", *fanout_cli.net(loopback_thread), "--judge", "--json")
    judge = doc["judge"]
    assert len(judge["trials"]) == 6 and judge["calls"] == 6 and judge["agreement"] == 1.0
    assert len(loopback_thread.requests) == 3 * 6 + 6  # the judge's calls are its own, after the runs'
    assert {r["strategy"]: r["judged"] for r in doc["rows"]} == judge["scores"]
    assert sum(r["calls"] for r in doc["rows"]) == 18  # the runs' figures do not include the judge's
    assert doc["best_judged"] == judge["best_judged"] == "sequential" and all(t["reply"].startswith("coverage:") for t in judge["trials"])
    sessions = fanout_cli.json("sessions", "--json")
    assert [s["recipe"] for s in sessions] == ["judge"]  # the judge's run is recorded; bench's runs never were
    text = fanout_cli.run("bench", "research", *fanout_cli.net(loopback_thread), "--judge")
    assert text.returncode == 0 and "Judged" in text.stdout and "the judge's own cost, not in the table" in text.stdout
    assert "6 cached" in text.stdout  # the same outputs, judged again, from the cache


def test_a_judge_that_cannot_run_is_reported_before_the_runs(loopback_thread, fanout_cli):
    proc = fanout_cli.run("bench", "research", *fanout_cli.net(loopback_thread), "--judge", "--judge-provider", "nosuch")
    assert proc.returncode == 2 and "nosuch" in proc.stderr and "Traceback" not in proc.stderr
    assert loopback_thread.requests == []
    proc = fanout_cli.run("bench", "research", "--judge-model", "m")
    assert proc.returncode == 2 and "add --judge" in proc.stderr


def test_bench_across_models_compares_one_strategy_with_the_same_columns(loopback_thread, fanout_cli):
    def by_model(req) -> str:
        """"small" answers every angle with the same findings; "big" gives each angle its own."""
        if req.body.get("model") == "big" and not synthesis(req.prompt):
            angle = re.search(r"focusing on: (.*?)\.\n", req.prompt).group(1)
            return "\n".join(f"- {default_text(f'{angle} {k}', tokens=4)}" for k in range(3))
        return responder(req) if synthesis(req.prompt) else "\n".join(f"- {f}" for f in SHARED)

    loopback_thread.responder = by_model
    url = ["--base-url", f"{loopback_thread.base_url}/v1"]
    doc = fanout_cli.json("bench", "research", *url, "--models", "small,big", "--strategy", "parallel", "--json")
    assert doc["across"] == "model" and doc["strategy"] == "parallel"
    rows = {r["strategy"]: r for r in doc["rows"]}
    assert list(rows) == ["small", "big"] and all(r["calls"] == 6 for r in rows.values())
    assert rows["small"]["redundancy"] == 0.8 and rows["big"]["redundancy"] == 0.0 and doc["least_redundant"] == "big"
    assert sorted(r.body["model"] for r in loopback_thread.requests) == ["big"] * 6 + ["small"] * 6
    text = fanout_cli.run("bench", "research", *url, "--models", "small,big")
    assert text.returncode == 0 and text.stdout.startswith("Model ") and "Least redundant: big" in text.stdout
    for bad, says in ((["--models", "one"], "two or more"), (["--models", "a,b", "--model", "c"], "drop --model"),
                      (["--models", "a,b", "--providers", "p,q"], "not allowed with")):
        proc = fanout_cli.run("bench", "research", *url, *bad)
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr


def test_a_replayed_session_measures_what_the_live_run_measured(loopback_thread, fanout_cli):
    loopback_thread.responder = responder
    live = fanout_cli.json("run", "research", "--strategy", "hybrid", *fanout_cli.net(loopback_thread), "--json")
    loopback_thread.stop_thread()  # replay needs no server
    again = fanout_cli.json("replay", live["session_id"], "--headless", "--speed", "0", "--json")
    assert live["metrics"]["quality"]["redundancy"] == 0.4 and live["metrics"]["quality"]["contradictions"] == 1
    assert again["metrics"]["quality"] == live["metrics"]["quality"]
    md = fanout_cli.run("export", live["session_id"], "--format", "md")
    assert "## Quality" in md.stdout and "redundancy 40 %" in md.stdout
