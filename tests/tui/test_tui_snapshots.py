"""SVG snapshots of the screens, driven by fixed synthetic events (no clock, no network): the run screen
mid-stream, a vote's tally, the comparison table and the history."""

from __future__ import annotations

from fanout.stores.sessions import Header, Recorder
from fanout.strategies.events import RunDone, RunMetrics
from fanout.tui.app import FanoutApp
from fanout.tui.screens.compare import CompareScreen
from fanout.tui.screens.run import RunScreen
from fanout.tui.feeds import Feed
from tuikit import (
    STARTED_AT,
    aiter_events,
    finished_state,
    research_midstream,
    vote_run,
)


def show_events(events):
    async def run_before(pilot) -> None:
        screen = RunScreen(Feed(aiter_events(events), label=""))
        await pilot.app.push_screen(screen)
        await screen.finished.wait()
        await pilot.pause()
        await screen.settle()
        await pilot.pause()

    return run_before


def test_run_screen_mid_stream(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(130, 40), run_before=show_events(research_midstream()))


def test_run_screen_compact_when_many_branches(snap_compare):
    # 80×24 cannot hold six panes: the list of branches and the focused pane instead.
    assert snap_compare(FanoutApp(), terminal_size=(80, 24), run_before=show_events(research_midstream()))


def test_vote_tally(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(120, 42), run_before=show_events(vote_run()))


def test_compare_table(snap_compare):
    states = [
        finished_state("sequential", 8.2, 8400, 6, 0.0126, "x" * 2400),
        finished_state("parallel", 2.4, 9200, 6, 0.0138, "x" * 2600),
        finished_state("hybrid", 3.8, 8700, 6, 0.0131, "x" * 2500),
    ]

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(CompareScreen(states))
        await pilot.pause()

    assert snap_compare(FanoutApp(), terminal_size=(100, 20), run_before=run_before)


def test_history(snap_compare):
    from fanout.strategies.events import BranchInfo, RunStarted

    for i, (strategy, status, wall) in enumerate((("sequential", "ok", 8.2), ("parallel", "partial", 2.4),
                                                  ("hybrid", "ok", 3.8))):
        sid = f"20260101-00000{i}-hist{i:02d}"
        header = Header(sid, "research", {}, {"topic": "q"}, strategy, "custom", "m", STARTED_AT + 60 * i)
        rec = Recorder(header)
        rec(RunStarted(0.0, sid, "research", strategy, "custom", "m", {"topic": "q"},
                       tuple(BranchInfo(f"b{j}", f"B{j}") for j in range(5)), "synthesize", STARTED_AT))
        rec(RunDone(wall, status, RunMetrics(wall=wall, input_tokens=4000, output_tokens=4000 + 100 * i,
                                             cost=0.01 * (i + 1))))
        rec.close()

    async def run_before(pilot) -> None:
        pilot.app.action_history()
        await pilot.pause()

    assert snap_compare(FanoutApp(), terminal_size=(120, 14), run_before=run_before)
