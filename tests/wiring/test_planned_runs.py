"""A planner decides the branches: over real HTTP against the loopback server, whose PlanResponder plays the
planner (the first request of each run) and answers every branch with its default text."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from fanout.devserver import LoopbackServer, PlanResponder, asks_for_plan
from fanout.frontends.report import to_json, to_markdown
from fanout.frontends.state import RunState
from fanout.stores.sessions import load as load_session, replay
from fanout.wiring.bench import bench
from fanout.wiring.launch import RunOptions, execute, prepare

RECIPE = """
name = "planned"
strategy = "hybrid"
prompt = "Research {topic} focusing on: {title}. Brief: {brief}"
[inputs]
topic = "solid-state batteries"
[defaults]
max_tokens = 64
[plan]
prompt = "Plan research on {topic}"
min_branches = 2
max_branches = 4
[aggregate]
kind = "synthesize"
prompt = "Synthesise {topic}"
"""

GOOD = json.dumps({"angles": [
    {"title": "Electrolyte chemistry", "brief": "Sulfide versus oxide electrolytes.", "after": []},
    {"title": "Manufacturing at scale", "brief": "Who can build them.", "after": []},
    {"title": "Market outlook", "brief": "When cars get them.", "after": ["Electrolyte chemistry",
                                                                          "Manufacturing at scale"]},
]})
IDS = ["electrolyte-chemistry", "manufacturing-at-scale", "market-outlook"]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path / "home"))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "FANOUT_CONFIG"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def recipe(tmp_path):
    def write(text: str = RECIPE) -> str:
        path = tmp_path / "planned.toml"
        path.write_text(text)
        return str(path)

    return write


async def run(recipe_path: str, *plans: str, server: LoopbackServer | None = None, follow_ups=(),
              responder: PlanResponder | None = None, **options):
    responder = responder or PlanResponder(*plans, follow_ups=follow_ups)
    own = server is None
    server = server or LoopbackServer()
    server.responder = responder
    if own:
        await server.start()
    try:
        opts = RunOptions(recipe=recipe_path, cache=options.pop("cache", "off"), **options)
        if "provider" not in options:
            opts = replace(opts, base_url=server.base_url + "/v1", model="m")
        prepared = prepare(opts)
        state = RunState()
        try:
            await execute(prepared, [state.apply])
        finally:
            await prepared.aclose()
        return state, server, responder
    finally:
        if own:
            await server.stop()


def prompt_of(server: LoopbackServer, title: str) -> str:
    return next(r.prompt for r in server.requests if f"focusing on: {title}." in r.prompt)


@pytest.mark.parametrize("strategy", ["sequential", "parallel", "hybrid"])
async def test_the_plan_is_the_first_call_and_its_branches_run_under_each_strategy(recipe, strategy):
    state, server, responder = await run(recipe(), GOOD, strategy=strategy)
    assert state.status == "ok", state.done
    first = server.requests[0]
    assert asks_for_plan(first) and "Plan research on solid-state batteries" in first.prompt
    fmt = first.body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["properties"]["angles"]["maxItems"] == 4
    assert responder.asked == 1 and len(server.requests) == 1 + 3 + 1
    assert list(state.branches) == IDS and state.plan.planned == tuple(IDS) and state.plan.warnings == ()
    assert [b.title for b in state.branch_list()] == ["Electrolyte chemistry", "Manufacturing at scale",
                                                      "Market outlook"]
    # Every branch starts after the plan is done, on the recipe's shared prompt with the planned brief.
    plan_end = state.plan.lane.ended
    assert all(b.started >= plan_end for b in state.branch_list())
    assert "Brief: When cars get them." in prompt_of(server, "Market outlook")
    outlook = prompt_of(server, "Market outlook")
    manufacturing = prompt_of(server, "Manufacturing at scale")
    if strategy == "sequential":
        assert state.branches["market-outlook"].info.after == ("manufacturing-at-scale",)
        assert "Previously covered angles: Electrolyte chemistry; Manufacturing at scale." in outlook
        assert "Previously covered angles: Electrolyte chemistry." in manufacturing
    elif strategy == "parallel":
        assert all(b.info.after == () for b in state.branch_list())
        assert "Previously covered" not in outlook and "<<<report" not in outlook
    else:
        assert state.branches["market-outlook"].info.after == ("electrolyte-chemistry", "manufacturing-at-scale")
        assert "<<<report" in outlook and "id=electrolyte-chemistry" in outlook and "<<<report" not in manufacturing
    # The planner's call counts in the run: calls, tokens, and the critical path starts with it.
    m = state.metrics
    assert m.calls == 5 and m.critical_path_ids[0] == "plan" and m.critical_path_ids[-1] == "aggregate"
    doc = to_json(state)
    assert doc["plan"]["status"] == "done" and doc["plan"]["branches"] == IDS
    assert json.loads(doc["plan"]["text"]) == json.loads(GOOD) and doc["plan"]["metrics"]["output_tokens"] > 0
    assert [b["id"] for b in doc["branches"]] == IDS


async def test_anthropic_is_asked_by_instruction(recipe, tmp_path, monkeypatch):
    async with LoopbackServer() as server:
        (tmp_path / "home").mkdir()
        (tmp_path / "home" / "config.toml").write_text(
            f'[providers.claude]\nkind = "anthropic"\nbase_url = "{server.base_url}"\nmodel = "m"\n'
            'api_key_env = "FANOUT_TEST_KEY"\n')
        monkeypatch.setenv("FANOUT_TEST_KEY", "test-key-123456")
        state, _, responder = await run(recipe(), GOOD, server=server, provider="claude")
    assert state.status == "ok" and list(state.branches) == IDS
    planner = responder.requests[0]
    assert planner.api == "anthropic" and "response_format" not in planner.body
    assert 'Answer with only a JSON object' in planner.prompt and "between 2 and 4" in planner.prompt


async def test_invalid_json_is_repaired_once(recipe):
    state, server, responder = await run(recipe(), "Sure! Here are some angles: batteries, costs.", GOOD)
    assert state.status == "ok" and responder.asked == 2 and list(state.branches) == IDS
    repair = responder.requests[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": "Sure! Here are some angles: batteries, costs."}
    assert "not a usable plan (no JSON object in the answer)" in repair[-1]["content"]
    assert state.plan.lane.metrics.retries == 1 and state.plan.text == GOOD


async def test_invalid_json_after_the_repair_fails_the_run_naming_the_planner(recipe):
    state, server, responder = await run(recipe(), "no plan from me", "still no plan")
    assert state.status == "failed" and responder.asked == 2 and len(server.requests) == 2
    error = state.done.error
    assert error.startswith("the planner gave no usable plan, even after one repair: no JSON object")
    assert error.endswith("It answered:\nstill no plan")
    assert state.branches == {} and state.plan.status == "failed"
    assert "still no plan" in to_markdown(state) and to_json(state)["plan"]["status"] == "failed"


async def test_fewer_than_min_branches_fails(recipe):
    one = json.dumps({"angles": [{"title": "Alone", "brief": "", "after": []}]})
    state, server, _ = await run(recipe(), one, one)
    assert state.status == "failed" and "1 usable angle, fewer than min_branches = 2" in state.done.error
    assert len(server.requests) == 2


async def test_warnings_reach_the_state_the_report_and_the_json(recipe):
    angles = [{"title": t, "brief": "", "after": a} for t, a in
              [("A", ["B"]), ("B", ["A"]), ("B", []), ("C", ["Nowhere"]), ("E", [])]]
    state, server, _ = await run(recipe(), json.dumps({"angles": angles}))
    assert state.status == "ok" and list(state.branches) == ["a", "b", "b-2", "c"]
    expected = [
        "the planner gave 5 angles, more than max_branches = 4: kept the first 4, dropped E",
        "2 angles are titled 'B': they run as b and b-2",
        "c: after names 'Nowhere', which is no angle of the plan: dropped",
        "dependency cycle a -> b -> a: dropped b's dependency on a",
    ]
    assert list(state.plan.warnings) == expected
    assert to_json(state)["plan"]["warnings"] == expected
    report = to_markdown(state)
    assert all(f"**warning:** {w}" in report for w in expected)


async def test_a_rerun_with_the_cache_plans_identically_and_the_session_replays(recipe):
    async with LoopbackServer() as server:
        first, _, _ = await run(recipe(), GOOD, server=server, cache="use")
        second, _, responder = await run(recipe(), GOOD, server=server, cache="use")
    assert responder.asked == 0 and second.plan.lane.cached and list(second.branches) == IDS
    session = load_session(second.started.session_id)
    replayed = RunState()
    async for event in replay(session.events, 0):
        replayed.apply(event)
    assert to_json(replayed) == to_json(second)
    assert [e.kind for e in session.events[:2]] == ["run_started", "plan_started"]


async def test_bench_plans_once_and_gives_every_strategy_the_same_plan(recipe):
    async with LoopbackServer() as server:
        server.responder = responder = PlanResponder(GOOD)
        states = []
        rounds = await bench(RunOptions(recipe=recipe(), base_url=server.base_url + "/v1", model="m"),
                             progress=lambda n, s, state: states.append(state))
    assert responder.asked == 1 and len(server.requests) == 1 + 3 * 4
    assert all(list(s.branches) == IDS and s.plan.reused for s in states)
    assert [r.calls for r in rounds[0]] == [4, 4, 4]  # the planner's call is not counted in each strategy


async def test_max_tokens_bounds_the_branches_but_never_cuts_the_plan_short(recipe):
    state, server, responder = await run(recipe(), GOOD, max_tokens=5)
    assert state.status == "ok" and list(state.branches) == IDS
    planner, *rest = server.requests
    assert planner.body["max_tokens"] == 64  # the recipe's, for the planner
    assert {r.body["max_tokens"] for r in rest} == {5}


async def test_cancelling_while_planning_cancels_the_run_and_keeps_the_session(recipe):
    async with LoopbackServer(latency=30.0) as server:
        server.responder = PlanResponder(GOOD)
        prepared = prepare(RunOptions(recipe=recipe(), base_url=server.base_url + "/v1", model="m", cache="off"))
        state = RunState()
        engines = []

        def on_event(event):
            state.apply(event)
            if event.kind == "branch_started" and event.branch == "plan":
                engines[0].cancel()

        try:
            await execute(prepared, [on_event], on_engine=engines.append)
        finally:
            await prepared.aclose()
    assert state.status == "cancelled" and state.done.error == "cancelled while planning"
    assert state.plan.status == "failed" and state.plan.error == "the planner was cancelled"
    assert state.branches == {} and len(server.requests) <= 1  # cancelled before or as it went out
    assert load_session(state.started.session_id).status == "cancelled"
