"""A planned run in the app: the planner's pane streams first, then the planned branches' panes appear (and
their timeline rows), live against the loopback server and from synthetic events for a snapshot."""

from __future__ import annotations

import json

from fanout.devserver import PlanResponder
from fanout.stores import sessions
from fanout.strategies.events import (
    AggregateDone,
    AggregateStarted,
    BranchDone,
    BranchInfo,
    BranchMetrics,
    BranchQueued,
    BranchStarted,
    BranchToken,
    PlanDone,
    PlanStarted,
    RunDone,
    RunMetrics,
    RunStarted,
)
from fanout.tui.app import FanoutApp
from fanout.tui.feeds import Feed
from fanout.tui.screens.run import RunScreen
from fanout.tui.widgets.timeline import Timeline
from fanout.wiring.launch import RunOptions, prepare
from tuikit import STARTED_AT, Badges, Tap, badge, drawn, notifications, screen_text, wait_for

PLAN = json.dumps({"angles": [
    {"title": "Electrolyte chemistry", "brief": "Sulfides versus oxides.", "after": []},
    {"title": "Manufacturing at scale", "brief": "Who builds them.", "after": []},
    {"title": "Market outlook", "brief": "When cars get them.", "after": ["Electrolyte chemistry", "Nowhere"]},
]})
RECIPE = """
name = "planned"
prompt = "Research {topic} focusing on: {title}. {brief}"
[inputs]
topic = "solid-state batteries"
[plan]
prompt = "Plan research on {topic}"
[aggregate]
kind = "synthesize"
prompt = "Synthesise {topic}"
"""


INFOS = (BranchInfo("electrolyte-chemistry", "Electrolyte chemistry"),
         BranchInfo("manufacturing-at-scale", "Manufacturing at scale"),
         BranchInfo("market-outlook", "Market outlook", ("electrolyte-chemistry",)))
WARNING = "market-outlook: after names 'Nowhere', which is no angle of the plan: dropped"


def opening():
    return [RunStarted(0.0, "20260101-000000-plan01", "deep-research", "hybrid", "custom", "m",
                       {"topic": "solid-state batteries"}, (), "synthesize", STARTED_AT),
            PlanStarted(0.0, 3, 6), BranchStarted(0.1, "plan"),
            *(BranchToken(0.2 + i * 0.01, "plan", w) for i, w in enumerate(['{"angles": [', '{"title": "Electr']))]


def planned(t: float = 1.0):
    return [PlanDone(t, PLAN, INFOS, (WARNING,), BranchMetrics(ttft=0.1, latency=t, input_tokens=80,
                                                                output_tokens=90))]


def streaming(t: float = 1.0):
    events = []
    for n, info in enumerate(INFOS[:2]):
        events += [BranchQueued(t, info.id), BranchStarted(t + 0.1, info.id),
                   BranchToken(t + 0.3, info.id, f"Findings on {info.title.lower()}: "),
                   BranchToken(t + 0.5 + n, info.id, "sulfide electrolytes reached 25 mS/cm. ")]
    return events


async def test_the_plan_pane_streams_first_then_the_planned_panes_appear(tmp_path):
    tap = Tap()
    async with FanoutApp().run_test(size=(130, 40)) as pilot:
        screen = RunScreen(Feed(tap.events(), label=""))
        await pilot.app.push_screen(screen)
        tap.push(*opening())
        await wait_for(pilot, lambda: "plan" in screen.panes and screen.panes["plan"].is_mounted, what="plan pane")
        await drawn(pilot, screen)
        assert list(screen.panes) == ["plan"] and screen.state.branches == {}
        assert '"title": "Electr' in screen.panes["plan"].text
        assert [label for label, _ in screen.query_one(Timeline).rows()] == ["plan"]
        tap.push(*planned(), *streaming())
        await wait_for(pilot, lambda: len(screen.panes) == 4 and all(p.is_mounted for p in screen.pane_list()),
                       what="the planned panes")
        await drawn(pilot, screen)
        await pilot.pause()
        assert list(screen.panes) == ["plan", *(i.id for i in INFOS)]
        assert [label for label, _ in screen.query_one(Timeline).rows()] == ["plan", *(i.id for i in INFOS)]
        # In the grid, in lane order, before the aggregator.
        assert [p.id for p in screen.query("#panes > *")] == [*(screen.panes[k].id for k in screen.panes),
                                                              "aggregate-pane"]
        await wait_for(pilot, lambda: "Findings on manufacturing at scale: sulfide electrolytes" in
                       screen_text(pilot.app), what="the planned panes' text on screen")
        await wait_for(pilot, lambda: "waiting on electrolyte-chemistry" in screen_text(pilot.app),
                       what="the dependent pane's badge")
        assert WARNING in notifications(pilot.app)
        assert badge(screen.panes["plan"]) == "done"
        tap.push(None)


def snapshot_events():
    events = opening() + planned() + streaming()
    return events


def fed(events):
    """A snapshot's `run_before`: a run screen fed `events`, drawn once they are all in, notifications cleared."""
    from tuikit import aiter_events

    async def run_before(pilot) -> None:
        screen = RunScreen(Feed(aiter_events(events), label=""))
        await pilot.app.push_screen(screen)
        await screen.finished.wait()
        await pilot.pause()
        await drawn(pilot, screen)
        await pilot.pause()
        pilot.app.clear_notifications()
        await pilot.pause()

    return run_before


def test_snapshot_plan_then_planned_panes(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(130, 40), run_before=fed(snapshot_events()))


async def test_live_planned_run_adds_panes_at_run_time(loopback, tmp_path, monkeypatch):
    path = tmp_path / "planned.toml"
    path.write_text(RECIPE)
    badges = Badges(monkeypatch)
    loopback.responder = PlanResponder(PLAN)
    loopback.token_interval = 0.005
    opts = RunOptions(recipe=str(path), base_url=loopback.base_url + "/v1", model="m", cache="off")
    app = FanoutApp(opts, prepared=prepare(opts))
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunScreen), what="the run screen")
        screen = pilot.app.screen
        await wait_for(pilot, screen.finished.is_set, what="the end of the run")
        await drawn(pilot, screen)
        assert screen.state.status == "ok"
        assert list(screen.panes) == ["plan", "electrolyte-chemistry", "manufacturing-at-scale", "market-outlook"]
        assert all(badge(p) == "done" for p in screen.pane_list())
        assert screen.state.plan.warnings == (WARNING,)
        # The planner's pane was drawn streaming (how a planned pane is first drawn, waiting on another, is the
        # synthetic test's above: here a dependency may finish before the next frame).
        assert "streaming" in badges(screen.panes["plan"])
        events = sessions.load(screen.state.started.session_id).events
        kinds = [(e.kind, getattr(e, "branch", "")) for e in events]
        plan_done = kinds.index(("plan_done", ""))
        assert ("branch_token", "plan") in kinds[:plan_done]
        assert all(i > plan_done for i, (k, b) in enumerate(kinds) if k == "branch_started" and b != "plan")


async def test_the_form_opens_on_the_topic_and_says_a_planner_decides(loopback):
    loopback.responder = PlanResponder(PLAN)
    app = FanoutApp(RunOptions(recipe="deep-research", base_url=loopback.base_url + "/v1", model="m", cache="off"))
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: app.screen.focused is not None and app.screen.focused.id == "input-0",
                       what="the topic box focused")
        description = str(app.screen.query_one("#recipe-description").render())
        assert "a planner chooses 3–6 branches as the run starts · hybrid by default" in description
        app.screen.focused.value = ""
        await pilot.press(*"tides", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), what="the run screen")
        await wait_for(pilot, app.screen.finished.is_set, what="the end of the run")
        state = app.screen.state
        assert state.status == "ok" and state.started.inputs == {"topic": "tides"}
        assert "Plan research on" not in loopback.requests[0].prompt and "on tides" in loopback.requests[0].prompt
        assert list(state.branches) == ["electrolyte-chemistry", "manufacturing-at-scale", "market-outlook"]


async def test_compare_plans_once_and_runs_every_strategy_on_that_plan(loopback, tmp_path):
    from fanout.tui.screens.compare import CompareScreen

    path = tmp_path / "planned.toml"
    path.write_text(RECIPE)
    loopback.responder = responder = PlanResponder(PLAN)
    opts = RunOptions(recipe=str(path), base_url=loopback.base_url + "/v1", model="m", cache="off")
    app = FanoutApp(opts, prepared=prepare(opts))
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.finished.is_set(),
                       what="the first run")
        assert responder.asked == 1
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), timeout=60, what="the comparison")
        rows = app.screen.rows
    # One more plan for the comparison (its own run screen), then none for the three strategies.
    assert responder.asked == 2
    assert [r.strategy for r in rows] == ["sequential", "parallel", "hybrid"] and [r.calls for r in rows] == [4] * 3
    # The plan's run is kept with the comparison's, marked as its plan; the compare screen reads the other three.
    from fanout.frontends.comparisons import Group, grouped, states

    group = grouped(sessions.list_sessions())[0]
    assert isinstance(group, Group) and [(s.strategy if not s.plan_only else "plan") for s in group.runs] == [
        "plan", "sequential", "parallel", "hybrid"]
    assert [state.metrics.calls for state in states(group)] == [4] * 3
