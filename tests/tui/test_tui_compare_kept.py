"""A comparison is kept in the sessions: its three runs share one id, the history lists them under one row with
the verdict, and that row opens the compare screen again from the sessions, with no call to the provider."""

from __future__ import annotations

from textual.widgets import DataTable

from fanout.frontends.comparisons import Group, grouped, verdict
from fanout.frontends.sessions_table import render_text
from fanout.stores import sessions
from fanout.tui.app import FanoutApp
from fanout.tui.screens.compare import CompareScreen, cells
from fanout.tui.screens.history import HistoryScreen
from fanout.tui.screens.run import RunScreen
from fanout.wiring.launch import RunOptions, prepare
from tuikit import compared_events, screen_text, wait_for

SIZE = (140, 44)


async def compared(loopback) -> list[tuple[str, ...]]:
    """A research run, then `m`: the comparison's table as the app showed it."""
    opts = RunOptions(base_url=loopback.base_url + "/v1", model="m")
    app = FanoutApp(opts, prepared=prepare(opts))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.finished.is_set(),
                       timeout=60, what="the first run")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), timeout=90, what="the comparison")
        return cells(app.screen.rows)


async def test_a_comparison_is_one_group_in_the_history_and_reopens_without_a_call(loopback):
    shown = await compared(loopback)
    listed = sessions.list_sessions()
    first_run = listed[-1]
    entries = grouped(listed)
    assert entries[1] == first_run and isinstance(entries[0], Group)  # the run before `m` stands alone
    group = entries[0]
    assert [s.strategy for s in group.runs] == ["sequential", "parallel", "hybrid"] and group.complete
    assert all(sessions.load(s.id).header.comparison == group.id for s in group.runs)
    assert not sessions.load(first_run.id).header.comparison
    calls = len(loopback.requests)

    app = FanoutApp()  # another start of the app: the comparison comes from the disk, not from memory
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.action_history()  # on the form, `h` is typing
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="the history")
        history = app.screen
        await wait_for(pilot, lambda: bool(history.query(DataTable)) and history.query_one(DataTable).row_count == 5,
                       what="the history's rows")
        table = history.query_one(DataTable)
        rows = [[str(c).strip() for c in table.get_row_at(i)] for i in range(5)]
        assert [r[2] for r in rows] == ["compare", "├ sequential", "├ parallel", "└ hybrid", "hybrid"]
        assert rows[0][8] == group.id and rows[4][8] == first_run.id
        # The verdict's first clause (which strategy won on the loopback server's near-equal timings varies: "X:
        # 1.02× faster than sequential", or "sequential: the fastest (...)")
        said = verdict(group).split(",")[0]
        await wait_for(pilot, lambda: said in screen_text(app), what="the verdict under the table")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="the stored comparison")
        compare = app.screen
        await wait_for(pilot, lambda: compare.query_one(DataTable).row_count == 3, what="its rows")
        assert cells(compare.rows) == shown
        assert screen_text(app).splitlines()[0].strip().startswith("Compare: research")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is history, what="the history again")
        await pilot.press("down", "enter")  # a run under the comparison replays as any session does
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.finished.is_set(),
                       what="the sequential run's replay")
        assert app.screen.state.started.strategy == "sequential"
    assert len(loopback.requests) == calls  # reopening paid for nothing


def record(strategy: str, comparison: str, created: float, plan_only: bool = False) -> str:
    """`compared_run`'s events as a session (under FANOUT_HOME), in a comparison or not ("")."""
    session_id = f"{strategy}-{int(created)}"
    header = sessions.Header(session_id, "research", {}, {}, strategy, "custom", "m", created,
                             comparison=comparison, plan_only=plan_only)
    recorder = sessions.Recorder(header)
    for event in compared_events(strategy):
        recorder(event)
    recorder.close()
    return session_id


def test_fanout_sessions_lists_a_comparison_as_one_group_and_old_sessions_as_ever(fanout_home):
    record("hybrid", "", 1000.0)  # a session from before comparisons were kept, or a run of its own
    for i, strategy in enumerate(("sequential", "parallel", "hybrid")):
        record(strategy, "compare-x", 2000.0 + i)
    record("sequential", "compare-y", 3000.0)  # a comparison stopped after its first strategy
    lines = [" ".join(line.split()) for line in render_text(sessions.list_sessions()).splitlines()[1:]]
    assert lines == [
        "1970-01-01 00:50 research compare 3 incomplete 8.00 s 8400 $0.0126 compare-y custom/m",
        "└ sequential 3 ok 8.00 s 8400 $0.0126 sequential-3000 custom/m",
        "verdict: none, 1 of 3 strategies ran to their end",
        # the comparison's row adds up its runs; its verdict is the compare screen's headline
        "1970-01-01 00:33 research compare 3 ok 18.20 s 26300 $0.0394 compare-x custom/m",
        "├ sequential 3 ok 8.00 s 8400 $0.0126 sequential-2000 custom/m",
        "├ parallel 3 ok 4.20 s 9200 $0.0138 parallel-2001 custom/m",
        "└ hybrid 3 ok 6.00 s 8700 $0.0131 hybrid-2002 custom/m",
        "verdict: parallel: 1.90× faster than sequential, 1.10× the tokens, 3 distinct findings against 7",
        "1970-01-01 00:16 research hybrid 3 ok 6.00 s 8700 $0.0131 hybrid-1000 custom/m",
    ]
