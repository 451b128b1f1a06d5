"""A run of several waves in the app: the follow-up planner's pane and the next wave's panes appear as the wave is
planned, marked with their wave; the timeline marks where each wave began; the compact list groups by wave."""

from __future__ import annotations


from fanout.devserver import PlanResponder
from fanout.strategies.events import (BranchDone, BranchInfo, BranchMetrics, BranchQueued, BranchStarted, BranchToken,
                                     PlanDone, PlanStarted, WavesDone)
from fanout.tui.app import FanoutApp
from fanout.tui.feeds import Feed
from fanout.tui.screens.run import RunScreen
from fanout.tui.widgets.branch_list import BranchList
from fanout.tui.widgets.timeline import BOUNDARY, Timeline
from fanout.wiring.launch import RunOptions, prepare
from test_tui_plan import INFOS, PLAN, RECIPE, fed, opening, planned
from tuikit import Badges, Tap, drawn, notifications, screen_text, wait_for
from waves import FOLLOW_UP, WAVE_2

WAVE_2_INFOS = (BranchInfo("sulfide-stability", "Sulfide stability", ("electrolyte-chemistry",), wave=2),
                BranchInfo("factory-costs", "Factory costs", ("manufacturing-at-scale",), wave=2))
IDS = [i.id for i in INFOS]


def metrics(latency: float, tokens: int) -> BranchMetrics:
    return BranchMetrics(ttft=0.1, latency=latency, input_tokens=60, output_tokens=tokens)


def first_wave_done() -> list:
    """Wave 1 runs and ends (market-outlook after electrolyte-chemistry, as planned), and wave 2's follow-up
    planner starts streaming."""
    events = []
    for info, start, end in zip(INFOS, (1.0, 1.0, 1.8), (1.8, 2.2, 2.7)):
        text = f"Findings on {info.title.lower()}: 25 mS/cm; cost per kWh remains unclear."
        events += [BranchQueued(start, info.id), BranchStarted(start + 0.1, info.id),
                   BranchToken(start + 0.3, info.id, text), BranchDone(end, info.id, text, metrics(end - start, 14))]
    return sorted(events, key=lambda e: e.t) + [PlanStarted(2.9, 0, 2, wave=2), BranchStarted(3.0, "plan-2"),
                                               BranchToken(3.1, "plan-2", '{"angles": [{"title": "Sulfide')]


def second_wave(t: float = 3.6) -> list:
    events = [PlanDone(t, FOLLOW_UP, WAVE_2_INFOS, (), metrics(0.6, 70), wave=2)]
    for n, info in enumerate(WAVE_2_INFOS):
        events += [BranchQueued(t + 0.1, info.id), BranchStarted(t + 0.2, info.id),
                   BranchToken(t + 0.4 + n * 0.2, info.id, f"Follow-up on {info.title.lower()}: ")]
    return events


def wave_events() -> list:
    return opening() + planned() + first_wave_done() + second_wave()


async def test_the_second_waves_panes_appear_marked_with_their_wave():
    tap = Tap()
    async with FanoutApp().run_test(size=(150, 48)) as pilot:
        screen = RunScreen(Feed(tap.events(), label=""))
        await pilot.app.push_screen(screen)
        tap.push(*opening(), *planned(), *first_wave_done())
        await wait_for(pilot, lambda: "plan-2" in screen.panes and screen.panes["plan-2"].is_mounted,
                       what="the follow-up planner's pane")
        await drawn(pilot, screen)
        assert list(screen.panes) == ["plan", *IDS, "plan-2"]
        assert not any(info.id in screen.panes for info in WAVE_2_INFOS)
        await wait_for(pilot, lambda: screen.panes["plan-2"].text == '{"angles": [{"title": "Sulfide',
                       what="the follow-up planner's stream in its pane")
        await wait_for(pilot, lambda: "Follow-up plan · wave 2" in screen_text(pilot.app), what="its title")

        tap.push(*second_wave())
        await wait_for(pilot, lambda: all(i.id in screen.panes and screen.panes[i.id].is_mounted
                                          for i in WAVE_2_INFOS), what="wave 2's panes")
        await drawn(pilot, screen)
        await pilot.pause()
        assert list(screen.panes) == ["plan", *IDS, "plan-2", *WAVE_2]
        assert [p.id for p in screen.query("#panes > *")] == [*(p.id for p in screen.panes.values()),
                                                              "aggregate-pane"]
        await wait_for(pilot, lambda: "Sulfide stability · wave 2" in screen_text(pilot.app), what="wave marks")
        rows = screen.query_one(Timeline).rows()
        assert [label for label, _ in rows] == ["plan", *IDS, "plan-2", *WAVE_2]
        timeline = screen.query_one(Timeline)
        lines = timeline.lanes.text(120)
        # The line where wave 2's planning began, in every row where nothing else is drawn there: market-outlook's
        # duration ends past it and plan-2's bar starts on it.
        assert [BOUNDARY in line for line in lines] == [True, True, True, False, False, True, True], "\n".join(lines)
        assert any(f"{BOUNDARY} next wave" in line.plain for line in timeline.axis.legend())
        entries = screen.query_one(BranchList).entries()
        assert entries == ["wave 1", 0, 1, 2, 3, "wave 2", 4, 5, 6]

        tap.push(WavesDone(4.5, 2, "depth 2 reached"))
        await wait_for(pilot, lambda: "Stopped after wave 2: depth 2 reached" in
                       notifications(pilot.app), what="why the waves stopped")
        tap.push(None)


def test_snapshot_two_waves(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(150, 48), run_before=fed(wave_events()))


async def test_live_two_waves_add_the_second_waves_panes_at_run_time(loopback, tmp_path, monkeypatch):
    path = tmp_path / "planned.toml"
    path.write_text(RECIPE)
    badges = Badges(monkeypatch)
    loopback.responder = PlanResponder(PLAN, follow_ups=[FOLLOW_UP])
    loopback.token_interval = 0.005
    loopback.latency = 0.3  # every call waits for its headers: a pane is drawn before its call ends
    opts = RunOptions(recipe=str(path), base_url=loopback.base_url + "/v1", model="m", cache="off", depth=2)
    app = FanoutApp(opts, prepared=prepare(opts))
    async with app.run_test(size=(150, 48)) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunScreen), what="the run screen")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: "plan-2" in screen.panes, what="the follow-up planner's pane")
        assert not any(bid in screen.panes for bid in WAVE_2)  # wave 2 is not planned yet
        await wait_for(pilot, screen.finished.is_set, timeout=60, what="the end of the run")
        await drawn(pilot, screen)
        assert screen.state.status == "ok" and screen.state.stopped.reason == "depth 2 reached"
        assert list(screen.panes) == ["plan", *IDS, "plan-2", *WAVE_2]
        assert all(badges(p)[-1] == "done" for p in screen.pane_list())
        assert "streaming" in badges(screen.panes["plan-2"])
        assert all(badges(screen.panes[bid])[0] != "done" for bid in WAVE_2)  # drawn before they ran out
