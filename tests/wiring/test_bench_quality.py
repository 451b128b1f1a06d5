"""The quality columns measured on real runs over HTTP: a server whose answers overlap when a prompt holds no
earlier output and differ when it does, which is the seeds' claim made true, so the figures must show it."""

from __future__ import annotations

import re

from fanout.devserver.texts import default_text
from fanout.frontends.compare import table
from fanout.wiring.bench import bench, to_json
from fanout.wiring.launch import RunOptions

SHARED = ["Qubit counts doubled to 1,000 in 2025", "Error correction crossed the threshold",
          "Venture funding reached two billion dollars"]
SYNTHESIS = "1. Overall state\nGrowing.\n\n3. Contradictions or tensions between findings\n- counts differ\n\n4. What is missing\n- costs"


def responder(req) -> str:
    """What a model does in the seeds' story: alone, every angle finds the same headline facts; shown what
    earlier steps covered, it finds something else."""
    prompt = req.prompt
    if prompt.startswith("Synthesise"):
        return SYNTHESIS
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
