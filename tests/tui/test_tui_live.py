"""The TUI driving real runs against the loopback server: panes, badges, the aggregator, the timeline, and the
actions (cancel, retry, strategy switch, compare, export, copy, zoom, history and replay)."""

from __future__ import annotations

from scripted import task_of

import json

import pytest
from textual.widgets import DataTable, OptionList

from fanout.stores import sessions
from fanout.frontends.compare import table
from fanout.devserver import Fault
from fanout.wiring.launch import RunOptions, prepare
from fanout.frontends.report import fmt_seconds, to_markdown
from fanout.core.text import strip_controls
from fanout.frontends.state import CANCELLED, FAILED
from fanout.strategies.events import BranchDone
from fanout.tui.app import FanoutApp
from fanout.tui.screens.compare import CompareScreen, cells, summary
from fanout.tui.screens.history import HistoryScreen
from fanout.tui.screens.run import RunScreen
from fanout.tui.screens.strategy_picker import StrategyPicker
from fanout.tui.widgets.run_totals import RunTotals
from fanout.tui.widgets.timeline import LABEL, Timeline
from tuikit import Badges, badge, drawn, notifications, screen_text, wait_for

SIZE = (140, 44)


def live_app(server, **options) -> FanoutApp:
    opts = RunOptions(base_url=server.base_url + "/v1", model="m", **options)
    return FanoutApp(opts, prepared=prepare(opts))


async def run_screen(pilot) -> RunScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunScreen), what="the run screen")
    return pilot.app.screen


async def finished(pilot, screen: RunScreen | None = None) -> RunScreen:
    screen = screen or await run_screen(pilot)
    await wait_for(pilot, screen.finished.is_set, what="the end of the run")
    await drawn(pilot, screen)
    await pilot.pause()
    return screen


def recorded_texts(session_id: str) -> dict[str, str]:
    return {e.branch: e.text for e in sessions.load(session_id).events if isinstance(e, BranchDone)}


async def test_research_run_streams_every_branch_to_its_pane(loopback, monkeypatch):
    loopback.latency, loopback.token_interval, loopback.tokens = 0.3, 0.005, 30
    badges = Badges(monkeypatch)
    app = live_app(loopback)
    async with app.run_test(size=SIZE) as pilot:
        screen = await finished(pilot)
        state = screen.state
        assert state.status == "ok"
        texts = recorded_texts(state.started.session_id)
        assert set(texts) == {"hardware", "software", "commercial", "security", "academic"}
        for bid, pane in screen.panes.items():
            assert pane.text == texts[bid] and len(texts[bid].split()) == 30
            assert pane.shown_text == strip_controls(texts[bid])  # nothing lost at the end
            assert badge(pane) == "done"
        # security waits for hardware under hybrid: its pane said so before it streamed
        assert badges(screen.panes["security"])[0] == "waiting on hardware"
        assert "streaming" in badges(screen.panes["hardware"])
        agg = screen.aggregate_pane
        assert badge(agg) == "done"
        assert agg.shown_text == state.aggregate.text and state.aggregate.text
        # the timeline: security's bar starts with its wait for hardware, and streams after hardware's ends
        hardware_end = max(s.end for s in state.branches["hardware"].segments if s.kind == "stream")
        first = state.branches["security"].segments[0]
        assert first.kind == "deps" and first.end >= hardware_end
        rows = [row[1:] for row in screen.query_one(Timeline).lanes.text()]  # after the critical path's mark
        security_row = next(r for r in rows if r.startswith("security"))
        assert security_row[LABEL - 1] == "·" and "█" in security_row
        assert any(r.startswith("aggregate") and "█" in r for r in rows)
        totals = dict(screen.query_one(RunTotals).lines())
        assert totals["wall"] == fmt_seconds(state.metrics.wall)
        assert totals["concurrency"] == f"{state.metrics.concurrency:.2f}×"
        assert "research · hybrid · custom/m" in screen_text(app)


async def test_a_throttled_branch_shows_its_retry_and_backoff(loopback, monkeypatch):
    loopback.tokens = 12
    badges = Badges(monkeypatch)
    loopback.add_fault(Fault(status=429, retry_after=1.0), match=lambda r: "Hardware progress" in r.prompt)
    app = live_app(loopback)
    async with app.run_test(size=SIZE) as pilot:
        screen = await finished(pilot)
        shown = badges(screen.panes["hardware"])
        retry = [b for b in shown if b.startswith("retrying in")]
        assert retry and "429" in retry[0], shown
        assert shown[-1] == "done"
        assert any(s.kind == "backoff" for s in screen.state.branches["hardware"].segments)
        assert dict(screen.query_one(RunTotals).lines())["throttles"] == "1"


async def test_a_failed_branch_is_named_by_the_aggregator(loopback):
    loopback.add_fault(Fault(status=400, message="bad request"), match=lambda r: "Software and algorithm" in r.prompt)
    app = live_app(loopback)
    async with app.run_test(size=SIZE) as pilot:
        screen = await finished(pilot)
        assert screen.state.status == "partial"
        software = screen.panes["software"]
        assert screen.state.branches["software"].status == FAILED and badge(software) == "400 · bad request"
        left_out = screen.aggregate_pane.failed_line
        assert left_out.display and "left out: software" in str(left_out.render())
        assert "left out: software" in screen_text(app)


async def test_cancel_a_branch_then_the_run(loopback):
    loopback.token_interval, loopback.tokens = 0.05, 400
    app = live_app(loopback)
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_screen(pilot)
        await wait_for(pilot, lambda: screen.engine is not None and screen.state.branches
                       and screen.state.branches["hardware"].tokens_seen > 2, what="hardware streaming")
        assert screen.focused_pane() is screen.panes["hardware"]
        await pilot.press("k")
        await wait_for(pilot, lambda: screen.state.branches["hardware"].status == CANCELLED, what="cancelled branch")
        assert screen.state.branches["software"].status != CANCELLED
        await pilot.press("x")
        screen = await finished(pilot, screen)
        assert screen.state.status == "cancelled"
        assert all(badge(p) in ("cancelled", "skipped", "failed") for p in screen.panes.values())


async def test_switch_strategy_then_run_again_on_the_same_inputs(loopback):
    loopback.latency, loopback.token_interval = 0.1, 0.002
    app = live_app(loopback, cache="off")  # hardware's prompt is the same under both: no cache hit
    async with app.run_test(size=SIZE) as pilot:
        first = await finished(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StrategyPicker), what="the strategy picker")
        app.screen.query_one(OptionList).highlighted = 1  # parallel
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen is not first,
                       what="the parallel run")
        second = await finished(pilot)
        assert second.state.started.strategy == "parallel"
        assert second.state.started.inputs == first.state.started.inputs
        # parallel: security no longer waits for hardware
        hardware_end = max(s.end for s in second.state.branches["hardware"].segments if s.kind == "stream")
        security_start = min(s.start for s in second.state.branches["security"].segments if s.kind == "stream")
        assert security_start < hardware_end
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen is not second, what="the re-run")
        third = await finished(pilot)
        assert third.state.started.strategy == "parallel"
        ids = {s.state.started.session_id for s in (first, second, third)}
        assert len(ids) == 3 and len(sessions.list_sessions()) == 3


async def test_retry_a_failed_branch_while_the_run_goes_on(loopback):
    loopback.add_fault(Fault(status=400, message="rejected once"), match=lambda r: "Hardware progress" in r.prompt)
    loopback.add_fault(Fault(delay=4.0), match=lambda r: "Academic research" in r.prompt)  # keeps the run going
    app = live_app(loopback, strategy="parallel")
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_screen(pilot)
        await wait_for(pilot, lambda: "hardware" in screen.state.branches
                       and screen.state.branches["hardware"].status == FAILED, what="hardware to fail")
        assert screen.running
        screen.focus_pane(0)
        await pilot.press("R")
        await finished(pilot, screen)
        hardware = screen.state.branches["hardware"]
        assert hardware.status == "done" and hardware.error == "" and screen.state.status == "ok"
        assert sum("Hardware progress" in task_of(r.prompt) for r in loopback.requests) == 2
        assert screen.panes["hardware"].shown_text == strip_controls(hardware.text)
        assert app.screen is screen  # the same run, not a new one


async def test_retry_once_the_run_is_over_resumes_only_what_failed(loopback):
    loopback.add_fault(Fault(status=400, message="rejected once"), match=lambda r: "Software and" in r.prompt)
    app = live_app(loopback, strategy="parallel")
    async with app.run_test(size=SIZE) as pilot:
        first = await finished(pilot)
        assert first.state.status == "partial"
        seen = len(loopback.requests)
        await pilot.press("R")
        await wait_for(pilot, lambda: app.screen is not first, what="the resumed run")
        second = await finished(pilot)
        assert second.state.status == "ok"
        assert second.state.started.session_id == first.state.started.session_id  # one session, gone on with
        assert len(loopback.requests) - seen == 2  # software and the aggregate
        assert [b for b, s in second.state.branches.items() if not s.kept] == ["software"]
        assert [s.status for s in sessions.list_sessions()] == ["ok"]


async def test_compare_runs_all_three_strategies_and_shows_the_seed_table(loopback):
    app = live_app(loopback)
    async with app.run_test(size=SIZE) as pilot:
        await finished(pilot)
        await pilot.press("m")
        # pushed is not mounted: under load the table fills a few frames after the screen appears
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and bool(app.screen.query(DataTable)) and app.screen.query_one(DataTable).row_count > 0,
                       timeout=60, what="the comparison")
        compare = app.screen
        assert [r.strategy for r in compare.rows] == ["sequential", "parallel", "hybrid"]
        assert all(r.status == "ok" and r.calls == 6 for r in compare.rows)
        # The rows are added when the screen mounts, which may be a frame after it is pushed.
        await wait_for(pilot, lambda: compare.is_mounted and compare.query_one(DataTable).row_count == 3,
                       what="the comparison's rows")
        grid = compare.query_one(DataTable)
        shown = [tuple(str(c) for c in grid.get_row_at(i)) for i in range(grid.row_count)]
        assert shown == cells(compare.rows)
        # the same figures as the headless comparison table
        text = table(compare.rows)
        for row in shown:
            for figure in (row[2], row[3], row[5], row[7]):
                assert figure in text
        assert summary(compare.rows) in text
        # the pictures come first; the verdict is below them, a scroll away on a 40-line terminal
        compare.query_one("#compare-verdict").scroll_visible(animate=False)
        # the whole verdict: its first line may be in view before the scroll
        await wait_for(pilot, lambda: all(line in screen_text(app) for line in ("Fastest:", "Cheapest:", "Least redundant")),
                       what="the verdict in view")
        assert len(sessions.list_sessions()) == 4


async def test_escape_keeps_the_comparison_and_m_reopens_it_without_running_again(loopback):
    app = live_app(loopback)
    async with app.run_test(size=SIZE) as pilot:
        await finished(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), timeout=60, what="the comparison")
        compare, calls = app.screen, len(loopback.requests)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), what="the last strategy's run")
        await pilot.press("m")
        await wait_for(pilot, lambda: not isinstance(app.screen, RunScreen), what="the comparison again")
        assert app.screen is compare and compare.query_one(DataTable).row_count == 3
        assert len(loopback.requests) == calls and len(sessions.list_sessions()) == 4


async def test_export_copy_zoom_and_pane_navigation(loopback, fanout_home):
    app = live_app(loopback)
    async with app.run_test(size=SIZE) as pilot:
        screen = await finished(pilot)
        sid = screen.state.started.session_id
        await pilot.press("e")
        md = fanout_home / "exports" / f"{sid}.md"
        await wait_for(pilot, md.exists, what="the Markdown export")
        assert md.read_text() == to_markdown(screen.state)
        await pilot.press("j")
        exported = fanout_home / "exports" / f"{sid}.json"
        await wait_for(pilot, exported.exists, what="the JSON export")
        assert json.loads(exported.read_text())["header"]["id"] == sid
        assert any(str(md) in n for n in notifications(app))

        assert screen.focused_pane() is screen.panes["hardware"]
        await pilot.press("c")
        assert app.clipboard == screen.state.branches["hardware"].text

        await pilot.press("n")
        assert screen.focused_pane() is screen.panes["software"]
        await pilot.press("p", "p")
        assert screen.focused_pane() is screen.aggregate_pane  # wraps around to the aggregator
        await pilot.press("c")
        assert app.clipboard == screen.state.aggregate.text

        await pilot.press("z")
        await pilot.pause()
        assert screen.maximized is screen.aggregate_pane
        assert not screen.panes["hardware"].on_screen
        await pilot.press("escape")
        await pilot.pause()
        assert screen.maximized is None and screen.panes["hardware"].on_screen


async def test_history_replays_a_session_read_only_and_offline(loopback):
    app = live_app(loopback)
    async with app.run_test(size=SIZE) as pilot:
        live = await finished(pilot)
        texts = {bid: p.shown_text for bid, p in live.panes.items()}
        await loopback.stop()  # no network from here on
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="the history")
        history = app.screen
        assert history.query_one(DataTable).row_count == 1
        assert live.state.started.session_id in screen_text(app)
        await pilot.press("i")
        replayed = await finished(pilot)
        assert replayed is not live and "replay" in replayed.mode
        assert {bid: p.shown_text for bid, p in replayed.panes.items()} == texts
        assert replayed.state.aggregate.text == live.state.aggregate.text
        assert replayed.check_action("rerun", ()) is False and replayed.check_action("cancel_run", ()) is False
        assert len(sessions.list_sessions()) == 1  # replaying records nothing


async def test_history_resumes_a_cancelled_session(loopback):
    loopback.add_fault(Fault(delay=30.0), match=lambda r: "Commercial adoption" in r.prompt)
    app = live_app(loopback, strategy="parallel")
    async with app.run_test(size=SIZE) as pilot:
        live = await run_screen(pilot)
        await wait_for(pilot, lambda: sum(b.status == "done" for b in live.state.branches.values()) == 4,
                       what="four branches done")
        await pilot.press("x")
        await finished(pilot, live)
        assert live.state.status == "cancelled"
        loopback.clear_faults()
        seen = len(loopback.requests)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="the history")
        await pilot.press("R")
        resumed = await finished(pilot)
        assert resumed is not live and resumed.state.status == "ok"
        assert resumed.state.resumed.previous == "cancelled" and len(resumed.state.resumed.kept) == 4
        assert len(loopback.requests) - seen == 2  # commercial and the aggregate
        assert [s.status for s in sessions.list_sessions()] == ["ok"]


async def test_replay_at_ten_times_keeps_the_recorded_stream(loopback):
    loopback.token_interval, loopback.tokens = 0.01, 20
    app = live_app(loopback)
    async with app.run_test(size=SIZE) as pilot:
        live = await finished(pilot)
        app.open_replay(live.state.started.session_id, 10)
        replayed = await finished(pilot)
        assert replayed.mode.startswith("replay 10×")
        assert replayed.state.done.metrics == live.state.done.metrics
        assert [b.text for b in replayed.state.branch_list()] == [b.text for b in live.state.branch_list()]


@pytest.mark.parametrize("start", [True, False])
async def test_the_form_runs_the_recipe_with_its_inputs(loopback, start):
    opts = RunOptions(base_url=loopback.base_url + "/v1", model="m")
    app = FanoutApp(opts)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        topic = app.screen.query_one("#input-0")
        topic.focus()
        await pilot.pause()
        topic.value = "tides"
        topic.cursor_position = len(topic.value)
        await pilot.press("h")  # typing in a field is typing, not the history key
        assert topic.value == "tidesh" and not isinstance(app.screen, HistoryScreen)
        await pilot.press("ctrl+r" if start else "enter")
        screen = await finished(pilot)
        assert screen.state.started.inputs == {"topic": "tidesh"}
        assert screen.state.started.recipe == "research"


async def test_the_form_reports_bad_input_without_leaving():
    app = FanoutApp(RunOptions(provider="openai"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        error = app.screen.query_one("#setup-error")
        assert error.display and "OPENAI_API_KEY" in str(error.render())
        assert not isinstance(app.screen, RunScreen)


async def test_the_form_lists_each_recipes_inputs():
    app = FanoutApp(RunOptions())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.query_one("#recipe").value = "pipeline"
        await wait_for(pilot, lambda: app.screen._input_names == ["message", "language"], what="pipeline's inputs")
        assert app.screen.query_one("#input-1").value == "French"


async def test_a_sectioned_vote_shows_every_tally_and_the_verdict(loopback):
    """moderation: the hate check voted 2-1, spam and pii fail, so the post is flagged; the pane shows both."""
    answers = {"hate speech": ["hate", "ok", "ok"], "spam or unsolicited": ["spam"],
               "personal information": ["ok"], "copyrighted": ["ok"]}
    seen: dict[str, int] = {}

    def respond(req):
        key = next(k for k in answers if k in req.prompt)
        n = seen.get(key, 0)
        seen[key] = n + 1
        return answers[key][n % len(answers[key])]

    loopback.responder = respond
    app = live_app(loopback, recipe="moderation", cache="off")
    async with app.run_test(size=SIZE) as pilot:
        screen = await finished(pilot)
        result = screen.state.aggregate.result
        assert result["flagged"] is True and result["votes"]["hate"]["tally"] == {"ok": 2, "hate": 1}
        tally = screen.aggregate_pane.tally
        assert tally.display
        shown = tally.render().plain
        assert shown.startswith("FLAGGED")
        assert "hate" in shown and "answer ok" in shown and "confidence 67 %" in shown and "confident" in shown
