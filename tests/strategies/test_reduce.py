"""The reduce that never overflows, over real HTTP against the loopback server: reports that do not fit one call
are merged in groups that fit, level by level; every reduce call is a step with its own events."""

from __future__ import annotations

import pytest

from fanout.devserver import Fault, LoopbackServer
from fanout.frontends.state import RunState
from fanout.stores import sessions
from fanout.strategies import events as ev
from fanout.strategies.recipe import parse
from fanout.strategies.reduce import balanced, pack
from fanout.strategies.prompting import Prior
from fanout.wiring.launch import RunOptions, execute, prepare

REPORT = ("wordsworth " * 91).strip()  # 1,000 characters in 91 chunks


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def recipe_file(tmp_path, branches: int, max_input_chars: int | None) -> str:
    limit = f"max_input_chars = {max_input_chars}" if max_input_chars else ""
    text = "\n".join(
        ['name = "wide"', 'strategy = "parallel"', 'prompt = "Report on {title}."', "",
         *(f'[[branches]]\nid = "b{i}"\ntitle = "angle {i}"\n' for i in range(1, branches + 1)),
         "[aggregate]", 'kind = "synthesize"', 'prompt = "Synthesise the reports into one summary."', limit]
    )
    path = tmp_path / "wide.toml"
    path.write_text(text)
    return str(path)


async def run_wide(tmp_path, branches, max_input_chars, responder=lambda req: REPORT, fault=None):
    prompts = []

    def respond(req):
        prompts.append(req.prompt)
        return responder(req)

    async with LoopbackServer(responder=respond, token_interval=0.0, latency=0.0) as server:
        if fault is not None:
            server.add_fault(Fault(status=400, message="the request was refused"), match=fault)
        prepared = prepare(RunOptions(recipe=recipe_file(tmp_path, branches, max_input_chars),
                                      base_url=server.base_url + "/v1", model="m", cache="off"))
        state, events = RunState(), []
        try:
            await execute(prepared, [state.apply, events.append])
        finally:
            await prepared.aclose()
    return state, events, prompts


async def test_eight_long_reports_reduce_in_two_levels_of_pairs(tmp_path):
    state, events, prompts = await run_wide(tmp_path, 8, 3500)
    assert state.status == "ok", state.aggregate.error
    steps = [e.info for e in events if isinstance(e, ev.BranchAdded)]
    # Two reports of ~1,000 characters fit one call of 3,500, three do not: 8 -> 4 -> 2, and the last call fits.
    assert [s.id for s in steps] == ["aggregate.r1.1", "aggregate.r1.2", "aggregate.r1.3", "aggregate.r1.4",
                                     "aggregate.r2.1", "aggregate.r2.2"]
    assert state.aggregate.result["reduce"] == {"levels": 2, "calls": 6, "max_input_chars": 3500}
    assert steps[0].after == ("b1", "b2") and steps[4].after == ("aggregate.r1.1", "aggregate.r1.2")
    assert all(s.stage == "reduce" and s.group == "aggregate" for s in steps)
    # Every call made, each within the limit: 8 branches, 6 reduce steps, the last call.
    assert len(prompts) == 15 and state.metrics.calls == 15
    assert max(len(p) for p in prompts) <= 3500
    assert sum("You see only part" in p for p in prompts) == 6
    # Each step is a branch in the fold, done with its text and metrics, and on the critical path.
    r = state.branches["aggregate.r2.1"]
    assert r.status == "done" and r.text == REPORT and r.metrics is not None and r.segments
    path = state.metrics.critical_path_ids
    assert path[-1] == "aggregate" and path[-2].startswith("aggregate.r2.") and path[-3].startswith("aggregate.r1.")
    # The session holds the new events as they were, and replays into the same state.
    recorded = sessions.load(state.started.session_id).events
    assert recorded == events
    replayed = RunState.from_events(recorded)
    assert replayed.branches.keys() == state.branches.keys() and replayed.metrics == state.metrics


async def test_reports_that_fit_make_no_reduce_step(tmp_path):
    state, events, prompts = await run_wide(tmp_path, 3, 20_000)
    assert state.status == "ok" and len(prompts) == 4
    assert not any(isinstance(e, ev.BranchAdded) for e in events)
    assert state.aggregate.result["reduce"] == {"levels": 0, "calls": 0, "max_input_chars": 20_000}


async def test_an_openai_provider_without_a_known_window_does_not_reduce(tmp_path):
    state, events, prompts = await run_wide(tmp_path, 8, None)
    assert state.status == "ok" and len(prompts) == 9 and "reduce" not in state.aggregate.result


async def test_a_failed_reduce_step_is_named_to_the_last_call(tmp_path):
    state, events, prompts = await run_wide(tmp_path, 8, 3500, fault=lambda req: "part 2 of 4" in req.prompt)
    failed = [e.branch for e in events if isinstance(e, ev.BranchFailed)]
    assert "aggregate.r1.2" in failed and "aggregate.r1.2" in state.aggregate.failed
    assert "aggregate.r1.2" in prompts[-1]  # the last call is told which material is missing


async def test_a_limit_too_small_for_the_prompt_fails_the_aggregate_clearly(tmp_path):
    state, _, _ = await run_wide(tmp_path, 8, 1000)
    assert state.aggregate.status == "failed" and "max_input_chars 1000" in state.aggregate.error


def test_pack_groups_consecutive_reports_while_they_fit():
    items = [Prior(f"p{i}", "t", "x" * n) for i, n in enumerate([5, 5, 5, 9, 1, 1])]
    groups = pack(items, lambda g: sum(len(p.text) for p in g) <= 10)
    assert [[p.id for p in g] for g in groups] == [["p0", "p1"], ["p2"], ["p3", "p4"], ["p5"]]


def test_balanced_groups_are_as_few_as_packed_and_of_even_size():
    items = [Prior(f"p{i}", "t", "x" * 10) for i in range(16)]
    fits = lambda g: sum(len(p.text) for p in g) <= 140  # noqa: E731 - 14 reports a call
    assert [len(g) for g in pack(items, fits)] == [14, 2]
    assert [len(g) for g in balanced(items, fits)] == [8, 8]
    assert [len(g) for g in balanced(items[:5], fits)] == [5]  # one call already: nothing to balance


async def test_cancelling_a_reduce_step_cancels_the_aggregate_it_belongs_to(tmp_path):
    engines, state, events = [], RunState(), []

    def on_event(event):
        state.apply(event)
        events.append(event)
        if isinstance(event, ev.BranchStarted) and event.branch == "aggregate.r1.2":
            engines[0].cancel_branch("aggregate.r1.2")

    async with LoopbackServer(responder=lambda req: REPORT, latency=0.05) as server:
        prepared = prepare(RunOptions(recipe=recipe_file(tmp_path, 8, 3500), base_url=server.base_url + "/v1",
                                      model="m", cache="off"))
        try:
            await execute(prepared, [on_event], on_engine=engines.append)
        finally:
            await prepared.aclose()
    assert state.branches["aggregate.r1.2"].status == "cancelled"
    assert state.status == "failed" and state.done.error == "cancelled"
    assert not any(isinstance(e, ev.BranchAdded) and e.info.id.startswith("aggregate.r2") for e in events)
