"""Two waves on the embedded model: the planner and the follow-up planner are SmolLM2-135M writing real tokens
through llama.cpp's grammar (the plan's JSON Schema; the follow-up's allows no angles), and every branch and the
synthesis are its own. Kept small (two angles, one follow-up, short answers) for a shared machine."""

from __future__ import annotations

import json

import pytest

from fanout.frontends.state import RunState
from fanout.wiring.launch import RunOptions, execute, prepare

pytestmark = pytest.mark.slow

RECIPE = """
name = "deeper"
strategy = "hybrid"
prompt = "Research {topic} focusing on: {title}.\\n{brief}\\nGive two findings."
[inputs]
topic = "tidal power"
[defaults]
max_tokens = 24
temperature = 0
context = 200
[plan]
min_branches = 2
max_branches = 2
follow_ups = 1
depth = 2
max_tokens = 220
temperature = 1.0   # varied angles, as deep-research asks (the sampler's seed is fixed: the same run each time)
prompt = '''You plan a research report on {topic}. Split the subject into the distinct angles a team of researchers
should cover, one researcher per angle: for example the technology itself, who pays for it, what holds it back.'''
[aggregate]
kind = "synthesize"
max_tokens = 24
prompt = "Synthesise the reports on {topic} in two sentences."
"""


async def test_the_embedded_model_runs_two_waves_through_the_grammar(tmp_path, monkeypatch):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    # Generous timeouts: on a loaded machine a follow-up planner's prefill (the first wave's reports) takes a while.
    (tmp_path / "home" / "config.toml").write_text("[providers.local]\ntimeout = 900\nstall_timeout = 600\n")
    path = tmp_path / "deeper.toml"
    path.write_text(RECIPE)
    prepared = prepare(RunOptions(recipe=str(path), cache="off"))
    state = RunState()
    try:
        await execute(prepared, [state.apply], record=False)
    finally:
        await prepared.aclose()
    assert state.status == "ok", state.done
    first, second = state.waves
    for wave in (first, second):
        assert wave.status == "done" and wave.lane.metrics.output_tokens > 0
        assert not wave.lane.metrics.tokens_estimated  # the model's own count: real tokens
        assert set(json.loads(wave.text)) == {"angles"}  # the whole answer is the schema's JSON
    assert len(first.planned) == 2 and len(second.planned) == 1
    assert state.stopped.waves == 2 and state.stopped.reason == "depth 2 reached"
    assert [b.info.wave for b in state.branch_list()] == [1, 1, 2]
    assert all(b.status == "done" and b.metrics.output_tokens > 0 for b in state.branch_list())
    assert state.aggregate.status == "done" and state.metrics.calls >= 1 + 2 + 1 + 1 + 1
