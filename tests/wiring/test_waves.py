"""Waves (`[plan] depth`): after each wave a follow-up planner, shown what the wave found, plans the next. Over real
HTTP against the loopback server, whose PlanResponder plays the planner (the first plan) and the follow-up planner
(given follow-ups, or "covered")."""

from __future__ import annotations

import json

import pytest

from fanout.devserver import COVERED, LoopbackServer, PlanResponder
from fanout.frontends.report import to_json, to_markdown
from fanout.frontends.state import RunState
from fanout.stores.sessions import load as load_session, replay
from fanout.wiring.bench import bench, render
from fanout.wiring.launch import RunOptions

from test_planned_runs import GOOD, IDS, RECIPE, home, recipe, run  # noqa: F401 - fixtures too
from waves import FOLLOW_UP, WAVE_2, kinds

TITLES = ["Electrolyte chemistry", "Manufacturing at scale", "Market outlook"]


def focusing_on(server: LoopbackServer, title: str):
    return next(r for r in server.requests if f"focusing on: {title}." in r.prompt)


@pytest.mark.parametrize("strategy", ["sequential", "parallel", "hybrid"])
async def test_two_waves_and_one_synthesis_under_each_strategy(recipe, strategy):
    state, server, responder = await run(recipe(), GOOD, follow_ups=[FOLLOW_UP], strategy=strategy, depth=2)
    assert state.status == "ok", state.done
    assert responder.asked == 1 and len(responder.follow_up_requests) == 1
    asked = kinds(server.requests)
    assert asked[0] == "plan" and sorted(asked[1:4]) == sorted(TITLES) and asked[4] == "follow-up"
    assert sorted(asked[5:7]) == ["Factory costs", "Sulfide stability"] and asked[7:] == ["aggregate"]
    assert list(state.branches) == IDS + WAVE_2
    assert [b.info.wave for b in state.branch_list()] == [1, 1, 1, 2, 2]
    assert [(w.wave, w.lane.id, w.status, w.planned) for w in state.waves] == [
        (1, "plan", "done", tuple(IDS)), (2, "plan-2", "done", tuple(WAVE_2))]
    assert [lane.id for lane in state.lanes()] == ["plan", *IDS, "plan-2", *WAVE_2]
    assert state.stopped.waves == 2 and state.stopped.reason == "depth 2 reached"
    # Every wave-2 branch starts after its follow-up planner, which starts after every wave-1 branch ended.
    follow_up = state.waves[1].lane
    assert follow_up.started >= max(state.branches[b].ended for b in IDS)
    assert all(state.branches[b].started >= follow_up.ended for b in WAVE_2)

    # The follow-up planner: shown the wave's reports fenced, the titles so far, allowed to answer no angles.
    req = responder.follow_up_requests[0]
    schema = req.body["response_format"]["json_schema"]["schema"]["properties"]["angles"]
    assert (schema["minItems"], schema["maxItems"]) == (0, 2)  # follow_ups: half of max_branches = 4
    assert "You now plan wave 2" in req.prompt and COVERED in req.prompt
    assert f"Angles covered so far (never repeat one): {'; '.join(TITLES)}." in req.prompt
    for bid in IDS:
        assert f"id={bid} " in req.prompt and state.branches[bid].text in req.prompt

    stability, costs = (focusing_on(server, t).prompt for t in ("Sulfide stability", "Factory costs"))
    if strategy == "sequential":  # the chain goes on: every earlier wave is "previously covered"
        assert f"Previously covered angles: {'; '.join(TITLES)}." in stability
        assert f"Previously covered angles: {'; '.join(TITLES)}; Sulfide stability." in costs
    elif strategy == "parallel":
        assert "<<<report" not in stability and "<<<report" not in costs
    else:  # each follow-up angle sees the reports it follows up
        assert state.branches["factory-costs"].info.after == ("manufacturing-at-scale", "sulfide-stability")
        assert "id=electrolyte-chemistry" in stability and "id=manufacturing-at-scale" not in stability
        assert "id=manufacturing-at-scale" in costs and "id=sulfide-stability" in costs
        assert "id=electrolyte-chemistry" not in costs
    # The synthesis sees every wave's reports, in order.
    synthesis = server.requests[-1].prompt
    where = [synthesis.index(f"id={bid} ") for bid in IDS + WAVE_2]
    assert where == sorted(where)

    m = state.metrics
    assert m.calls == 8 and m.critical_path_ids[0] == "plan" and "plan-2" in m.critical_path_ids
    assert m.critical_path_ids[-1] == "aggregate"
    assert m.output_tokens == sum(lane.metrics.output_tokens for lane in state.lanes()) + \
        state.aggregate.metrics.output_tokens
    doc = to_json(state)
    assert [b["wave"] for b in doc["branches"]] == [1, 1, 1, 2, 2]
    waves = doc["plan"]["waves"]
    assert [(w["status"], w["branches"], w["warnings"]) for w in waves] == [("done", IDS, []), ("done", WAVE_2, [])]
    assert json.loads(waves[1]["text"]) == json.loads(FOLLOW_UP) and waves[1]["metrics"]["output_tokens"] > 0
    assert doc["plan"]["stopped"] == {"waves": 2, "reason": "depth 2 reached"}
    report = to_markdown(state)
    assert "### Wave 2 (follow-up plan)\n- `sulfide-stability`: Sulfide stability" in report
    assert "The waves stopped after wave 2: depth 2 reached." in report


async def test_covered_ends_the_waves_early(recipe):
    state, server, responder = await run(recipe(), GOOD, follow_ups=[FOLLOW_UP, COVERED], depth=4)
    assert state.status == "ok"
    assert kinds(server.requests).count("follow-up") == 2 and len(server.requests) == 1 + 3 + 1 + 2 + 1 + 1
    assert [w.status for w in state.waves] == ["done", "done", "done"] and state.waves[2].planned == ()
    assert state.stopped.waves == 2
    assert state.stopped.reason == "covered: the follow-up planner (wave 3) found no new angle to research"
    assert list(state.branches) == IDS + WAVE_2 and state.metrics.calls == 9  # the "covered" call counts too
    assert "covered: the follow-up planner (wave 3)" in to_markdown(state)


async def test_depth_one_asks_no_follow_up_and_says_nothing_of_waves(recipe):
    state, server, responder = await run(recipe(), GOOD, follow_ups=[FOLLOW_UP])
    assert state.status == "ok" and responder.follow_up_requests == [] and len(server.requests) == 5
    assert state.stopped is None and len(state.waves) == 1
    assert "stopped" not in to_json(state)["plan"] and "Wave" not in to_markdown(state)


async def test_a_follow_up_repeating_an_earlier_title_is_dropped_with_a_warning(recipe):
    repeat = json.dumps({"angles": [
        {"title": "market OUTLOOK", "brief": "Again.", "after": []},
        {"title": "Sulfide stability", "brief": "Why sulfides degrade.", "after": ["Electrolyte chemistry"]},
    ]})
    state, server, _ = await run(recipe(), GOOD, follow_ups=[repeat], depth=2)
    assert state.status == "ok" and list(state.branches) == IDS + ["sulfide-stability"]
    warning = "'market OUTLOOK' repeats an earlier wave's angle (market-outlook): dropped"
    assert state.waves[1].warnings == (warning,)
    assert to_json(state)["plan"]["waves"][1]["warnings"] == [warning]
    assert f"**warning:** {warning}" in to_markdown(state)
    assert sum("focusing on: market OUTLOOK" in r.prompt for r in server.requests) == 0


async def test_a_bad_follow_up_plan_is_repaired_once_then_ends_the_waves_keeping_the_first(recipe):
    state, server, responder = await run(recipe(), GOOD, follow_ups=["no plan from me", "still no plan"], depth=3)
    assert state.status == "ok" and state.done.error == ""
    assert len(responder.follow_up_requests) == 2  # asked, then repaired once; no third wave is planned
    repair = responder.follow_up_requests[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": "no plan from me"}
    assert list(state.branches) == IDS and state.waves[1].status == "failed"
    assert state.waves[1].error.startswith("the follow-up planner (wave 2) gave no usable plan, even after one "
                                           "repair: no JSON object")
    assert state.stopped.waves == 1
    assert state.stopped.reason == "the follow-up planner (wave 2) gave no usable plan: the waves end at wave 1"
    assert state.aggregate.status == "done" and all(f"id={b} " in server.requests[-1].prompt for b in IDS)
    assert state.metrics.calls == 1 + 3 + 2 + 1  # the failed follow-up's two calls count
    doc = to_json(state)
    assert doc["plan"]["waves"][1]["status"] == "failed" and doc["plan"]["waves"][1]["branches"] == []
    assert "still no plan" in doc["plan"]["waves"][1]["error"]


async def test_the_follow_up_planner_sees_the_gaps_a_report_names_beyond_its_cut(recipe):
    path = recipe(RECIPE.replace("max_tokens = 64", "max_tokens = 64\ncontext = 60"))
    gap = "It remains unclear whether sulfide cells survive a thousand cycles."
    long = "Findings on electrolytes: " + "conductivity rose again. " * 8 + gap

    class Responder(PlanResponder):
        def __call__(self, req):
            return long if "focusing on: Electrolyte chemistry." in req.prompt else super().__call__(req)

    state, _, planner = await run(path, responder=Responder(GOOD), depth=2)
    assert state.status == "ok"
    prompt = planner.follow_up_requests[0].prompt
    assert long[:60] + " [...]" in prompt and long[:61] not in prompt  # cut to the recipe's context
    assert f"Gaps and contradictions it names:\n- {gap}" in prompt
    # Inside the report's own fence: model text is data.
    opened = prompt.index("id=electrolyte-chemistry title=Electrolyte chemistry>>>")
    closed = prompt.index("id=electrolyte-chemistry>>>")
    assert opened < prompt.index(gap) < closed


async def test_the_session_replays_every_wave(recipe):
    state, _, _ = await run(recipe(), GOOD, follow_ups=[FOLLOW_UP], depth=2, cache="use")
    session = load_session(state.started.session_id)
    replayed = RunState()
    async for event in replay(session.events, 0):
        replayed.apply(event)
    assert to_json(replayed) == to_json(state)
    assert [e.wave for e in session.events if e.kind == "plan_done"] == [1, 2]


async def test_bench_plans_the_first_wave_once_and_each_strategy_its_own_follow_ups(recipe):
    async with LoopbackServer() as server:
        server.responder = responder = PlanResponder(GOOD, follow_ups=[FOLLOW_UP])
        states = []
        rounds = await bench(RunOptions(recipe=recipe(), base_url=server.base_url + "/v1", model="m", depth=2),
                             progress=lambda n, s, state: states.append(state))
    assert responder.asked == 1 and len(responder.follow_up_requests) == 3
    assert all(list(s.branches) == IDS + WAVE_2 and s.plan.reused and not s.waves[1].reused for s in states)
    # Each strategy's row counts its own follow-up planner, never the plan made once; the comparison says so.
    assert [r.calls for r in rounds[0]] == [3 + 1 + 2 + 1] * 3 and [r.waves for r in rounds[0]] == [2, 2, 2]
    assert ("Waves: sequential 2, parallel 2, hybrid 2. The first wave's plan is made once for every row; each "
            "later wave is planned from that row's own findings") in render(rounds)
    for s in states:
        lane = s.waves[1].lane.metrics
        assert s.metrics.input_tokens == sum(b.metrics.input_tokens for b in s.branch_list()) + \
            lane.input_tokens + s.aggregate.metrics.input_tokens


async def test_a_wave_whose_worst_case_does_not_fit_the_budget_is_not_planned(recipe, tmp_path):
    """With a budget, the next wave is planned only when its worst case (its planner and `follow_ups` branches)
    fits in what is left; otherwise the waves stop there, saying so, and the synthesis still runs."""
    from priced import priced_config

    server = LoopbackServer()
    await server.start()
    try:
        (tmp_path / "home").mkdir(exist_ok=True)
        (tmp_path / "home" / "config.toml").write_text(priced_config(server))
        roomy, _, _ = await run(recipe(), GOOD, server=server, follow_ups=[FOLLOW_UP], depth=2, provider="lb",
                                budget=1.0)
        assert roomy.stopped.reason == "depth 2 reached" and roomy.status == "ok"
        seen = len(server.requests)
        tight, _, responder = await run(recipe(), GOOD, server=server, follow_ups=[FOLLOW_UP], depth=2,
                                        provider="lb", budget=0.01)
    finally:
        await server.stop()
    assert tight.stopped.waves == 1 and tight.stopped.reason.startswith("the budget: wave 2 could cost up to $")
    assert responder.follow_up_requests == [] and kinds(server.requests[seen:]).count("follow-up") == 0
    assert tight.status == "ok" and tight.aggregate.text  # the first wave is synthesised
    assert "the budget: wave 2" in to_markdown(tight)


async def test_a_follow_up_waves_branches_are_given_passages_of_the_users_files(recipe, tmp_path):
    """With --sources, a wave-2 branch is given the passages that match its own title, numbered on the run's one
    numbering: a file wave 1 was given keeps its number, a new one takes the next; each prompt shows them."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "electrolytes.md").write_text("# Electrolyte chemistry\n\nSolid electrolytes conduct lithium ions.\n")
    (notes / "sulfides.md").write_text("# Sulfide stability\n\nSulfide stability suffers in moist air: sulfides "
                                       "degrade and give off hydrogen sulfide.\n")
    (notes / "factories.md").write_text("# Factory costs\n\nFactory costs of a gigafactory line run to billions.\n")
    state, server, _ = await run(recipe(), GOOD, follow_ups=[FOLLOW_UP], depth=2, sources=[str(notes)])
    assert state.status == "ok"
    data = to_json(state)
    numbers = {s["path"]: s["n"] for s in data["sources"]}
    given = {b["id"]: {s["path"]: s["n"] for s in b["sources"]} for b in data["branches"]}
    sulfides = str(notes / "sulfides.md")
    assert sulfides in given["sulfide-stability"], given  # a wave-2 branch was given its best match
    assert all(paths for bid, paths in given.items() if bid in WAVE_2)
    for paths in given.values():  # one numbering across the waves
        assert all(numbers[path] == n for path, n in paths.items())
    prompt = focusing_on(server, "Sulfide stability").prompt
    assert f"[{numbers[sulfides]}] " in prompt and "hydrogen sulfide" in prompt
