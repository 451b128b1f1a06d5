"""The timeline explains itself: a legend that names the colours, each bar's duration at its end, the critical path
marked, labels cut with an ellipsis, and every lane reachable when there are more lanes than rows."""

from __future__ import annotations

from fanout.frontends.report import fmt_seconds
from fanout.frontends.state import RunState
from fanout.strategies.events import (
    AggregateDone,
    AggregateStarted,
    BranchDone,
    BranchInfo,
    BranchMetrics,
    BranchQueued,
    BranchRetrying,
    BranchStarted,
    BranchToken,
    RunDone,
    RunMetrics,
    RunStarted,
)
from fanout.tui.app import FanoutApp
from fanout.tui.feeds import Feed
from fanout.tui.screens.run import RunScreen
from fanout.tui.widgets.run_totals import RunTotals
from fanout.tui.widgets.timeline import LABEL, LEGEND, Timeline, TimelineAxis, TimelineLanes, draw_lane, lanes_of
from tuikit import STARTED_AT, aiter_events, drawn, screen_text, wait_for


def finished(ids: list[str], critical: tuple[str, ...] = ()) -> list:
    infos = tuple(BranchInfo(b, b) for b in ids)
    events: list = [RunStarted(0.0, "20260101-000000-line01", "demo", "parallel", "custom", "m", {}, infos, "concat",
                               STARTED_AT)]
    for n, b in enumerate(ids):
        start, end = 0.1 * n, 0.1 * n + 1.0 + n * 0.25
        events += [BranchQueued(start, b), BranchStarted(start, b), BranchToken(start + 0.3, b, "x"),
                   BranchDone(end, b, "x", BranchMetrics(latency=end - start, ttft=0.3))]
    wall = max(e.t for e in events) + 0.5
    events += [AggregateStarted(wall - 0.5, "concat"), AggregateDone(wall, "concat", "all"),
               RunDone(wall, "ok", RunMetrics(wall=wall, critical_path_ids=critical))]
    return events


def test_each_bar_ends_with_its_duration_and_the_critical_path_is_marked():
    state = RunState.from_events(finished(["alpha", "beta", "gamma"], critical=("gamma", "aggregate")))
    lanes = lanes_of(state, state.now)
    lines = [draw_lane(lane, state.now, 100).plain for lane in lanes]
    for lane, line in zip(lanes[:3], lines):
        b = state.branches[lane.label]
        assert line.rstrip().endswith(fmt_seconds(b.metrics.latency)), line
    assert [line[0] for line in lines] == [" ", " ", "◆", "◆"]  # gamma and the aggregate
    # The time to first token is drawn apart from the stream itself: two colours in the bar.
    styles = {span.style for span in draw_lane(lanes[0], state.now, 100).spans}
    assert any("$primary" in str(style) for style in styles) and any("$success" in str(style) for style in styles)


def test_the_lanes_of_calls_that_are_over_are_kept_between_redraws_and_made_again_when_they_change():
    events = finished(["alpha", "beta", "gamma"])[:-3]  # the run not over
    kept = [e for e in events if getattr(e, "branch", "") != "gamma" or isinstance(e, (BranchQueued, BranchStarted))]
    state = RunState.from_events(kept)  # alpha and beta done, gamma streaming
    over: dict = {}
    first = lanes_of(state, 3.0, over=over)
    later = lanes_of(state, 4.0, over=over)
    assert later[0] is first[0] and later[1] is first[1]  # over: drawn from what was made
    assert later[2] != first[2]  # gamma still runs: its bar grows with the clock
    assert later == lanes_of(state, 4.0)  # the same as made afresh

    # alpha retried by hand, then done again: its lane is made again
    for event in (BranchRetrying(4.5, "alpha", 1, 0.5, "by hand"), BranchStarted(5.0, "alpha"),
                  BranchDone(5.5, "alpha", "x", BranchMetrics(latency=1.0))):
        state.apply(event)
    again = lanes_of(state, 6.0, over=over)
    assert again[0] is not first[0] and again == lanes_of(state, 6.0)


def test_a_long_label_is_cut_with_an_ellipsis_and_steps_stay_apart():
    state = RunState.from_events(finished(["manufacturing-at-scale", "aggregate.r1.1", "aggregate.r2.1"]))
    labels = [draw_lane(lane, state.now, 100).plain[:LABEL] for lane in lanes_of(state, state.now)]
    assert labels[0].strip() == "manuf…scale"
    assert labels[1].strip() == "aggreg…r1.1" and labels[2].strip() == "aggreg…r2.1"


def test_the_legend_names_every_colour():
    [text] = TimelineAxis(lambda: 4.0).legend()
    plain = text.plain
    for glyph, style, what in LEGEND:
        assert f"{glyph} {what}" in plain
        start = plain.index(f"{glyph} {what}")
        assert any(span.start <= start < span.end and span.style == style for span in text.spans), what
    assert "◆ critical path" in plain


async def test_more_lanes_than_rows_scroll_and_every_lane_can_be_reached():
    ids = [f"lane{n:02d}" for n in range(31)]
    app = FanoutApp()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = RunScreen(Feed(aiter_events(finished(ids)), label=""))
        await app.push_screen(screen)
        await wait_for(pilot, screen.finished.is_set, what="the run")
        await drawn(pilot, screen)
        lanes = screen.query_one(TimelineLanes)
        await wait_for(pilot, lambda: lanes.size.height == screen.bottom_rows()[0] < 32, what="the timeline at its cap")
        assert lanes.virtual_size.height == 32 and lanes.can_focus  # 31 lanes and the aggregate's
        def shown() -> str:  # the timeline's rows on show
            return "\n".join(lanes.render_line(y).text for y in range(lanes.size.height))

        assert "lane00" in shown() and "lane30" not in shown()
        lanes.focus()
        await pilot.press("end")
        await wait_for(pilot, lambda: "lane30" in shown() and "aggregate" in shown(), what="the last lanes in view")
        totals = screen.query_one(RunTotals)
        assert totals.size.height >= len(totals.lines()) + 1  # never cut: "calls" is on show
        assert "calls" in screen_text(app)


async def test_the_run_screen_timeline_is_a_timeline_with_its_axis():
    app = FanoutApp()
    async with app.run_test(size=(160, 40)) as pilot:
        screen = RunScreen(Feed(aiter_events(finished(["a", "b"])), label=""))
        await app.push_screen(screen)
        await wait_for(pilot, screen.finished.is_set, what="the run")
        await drawn(pilot, screen)
        timeline = screen.query_one(Timeline)
        assert [label for label, _ in timeline.rows()] == ["a", "b", "aggregate"]
        await wait_for(pilot, lambda: "first token" in screen_text(app), what="the legend")
        # Only what the bars use is named: nothing failed, no backoff.
        assert "failed" not in screen_text(app).split("first token")[1] and "backoff" not in screen_text(app)


async def test_the_legend_wraps_rather_than_being_cut_when_narrow():
    app = FanoutApp()
    async with app.run_test(size=(80, 40)) as pilot:
        screen = RunScreen(Feed(aiter_events(finished(["a", "b"], critical=("b",))), label=""))
        await app.push_screen(screen)
        await wait_for(pilot, screen.finished.is_set, what="the run")
        await drawn(pilot, screen)
        await wait_for(pilot, lambda: "critical path" in screen_text(app), what="the whole legend")
        assert "…" not in "".join(line for line in screen_text(app).splitlines() if "first token" in line)
