"""Room given by content: balanced rows of panes, rows as tall as what they hold, the aggregator the main pane once
the branches are over and its answer open at the top, a layout that follows the terminal as it is resized, and a
form whose Run button is in view at 80×24."""

from __future__ import annotations

from fanout.strategies.events import (
    AggregateDone,
    AggregateStarted,
    AggregateToken,
    BranchDone,
    BranchInfo,
    BranchMetrics,
    BranchQueued,
    BranchStarted,
    BranchToken,
    RunDone,
    RunMetrics,
    RunStarted,
)
from fanout.tui.app import FanoutApp
from fanout.tui.feeds import Feed
from fanout.tui.screens.run import RunScreen
from fanout.tui.widgets.pane_grid import MIN_H, PaneGrid, row_heights, shape
from fanout.wiring.launch import RunOptions
from tuikit import STARTED_AT, aiter_events, drawn, screen_text, wait_for

SYNTHESIS = "".join(f"Synthesis line {n}: what the branches found, said once.\n\n" for n in range(60))


def five_done(synthesis: str = SYNTHESIS, *, aggregate: bool = True) -> list:
    ids = ("hardware", "software", "commercial", "security", "academic")
    infos = tuple(BranchInfo(b, b.title()) for b in ids)
    events: list = [RunStarted(0.0, "20260101-000000-room01", "research", "parallel", "custom", "m", {}, infos,
                               "synthesize", STARTED_AT)]
    for n, b in enumerate(ids):
        answer = f"{b} finding one.\n\n{b} finding two." if n != 1 else "\n\n".join(f"{b} point {k}" for k in range(9))
        events += [BranchQueued(0.0, b), BranchStarted(0.0, b), BranchToken(0.2, b, answer),
                   BranchDone(1.0 + n * 0.1, b, answer, BranchMetrics(latency=1.0, output_tokens=20))]
    if aggregate:
        events.append(AggregateStarted(1.5, "synthesize"))
        events += [AggregateToken(1.6 + n * 0.001, line) for n, line in enumerate(synthesis.splitlines(True))]
        events += [AggregateDone(2.0, "synthesize", synthesis, metrics=BranchMetrics(latency=0.5)),
                   RunDone(2.0, "ok", RunMetrics(wall=2.0))]
    return events


async def open_run(pilot, events) -> RunScreen:
    screen = RunScreen(Feed(aiter_events(events), label=""))
    await pilot.app.push_screen(screen)
    await wait_for(pilot, screen.finished.is_set, what="the feed")
    await drawn(pilot, screen)
    return screen


def test_branches_fill_balanced_rows():
    assert shape(5, 130, 40).rows == (3, 2)  # not 4 + 1
    assert shape(5, 200, 40).rows == (5,)  # five across on a wide screen
    assert shape(7, 130, 40).rows == (3, 2, 2)
    assert shape(5, 130, 40).spans() == [2, 2, 2, 3, 3]  # six cells: the last row's two panes are as wide
    assert shape(30, 130, 40) is None  # too many rows: the compact list instead


def test_rows_take_what_they_hold_and_the_aggregate_the_rest_once_the_branches_are_over():
    # Running: a finished row takes its need, a streaming row grows, the waiting aggregator keeps to its lines.
    assert row_heights([6, None], 3, 40, over=False) == ["6", "1fr", "3"]
    # Over, everything fits: every row its need, the aggregator the rest.
    assert row_heights([6, 8], 12, 40, over=True) == ["6", "8", "1fr"]
    # Over, too much: the aggregator what it needs up to two thirds, the branch rows share what is left.
    assert row_heights([30, 30], None, 40, over=True) == [str(max(MIN_H, (40 - 26) // 2))] * 2 + ["1fr"]


async def test_five_branches_lay_out_three_and_two_with_rows_as_tall_as_their_answers():
    app = FanoutApp()
    async with app.run_test(size=(130, 50)) as pilot:
        screen = await open_run(pilot, five_done())
        grid = screen.query_one(PaneGrid)
        assert not grid.compact and grid.shape.rows == (3, 2)
        panes = list(screen.panes.values())
        assert len({p.region.y for p in panes[:3]}) == 1 and len({p.region.y for p in panes[3:]}) == 1
        assert panes[3].region.width == panes[4].region.width > panes[0].region.width  # the row's room, shared
        short = panes[3]  # its row is all short answers
        await wait_for(pilot, lambda: short.region.height == short.content_rows(), what="the short row sized")
        assert short.content_rows() < 8  # its two lines and border, not a third of the screen
        assert screen.aggregate_pane.region.height > max(p.region.height for p in panes)  # the main pane


async def test_a_finished_answer_opens_at_its_top_even_after_it_streamed_followed():
    app = FanoutApp()
    async with app.run_test(size=(130, 50)) as pilot:
        screen = await open_run(pilot, five_done())
        agg = screen.aggregate_pane
        await wait_for(pilot, lambda: agg.settled, what="the synthesis rendered")
        await wait_for(pilot, lambda: agg.scroll.scroll_y == 0 and agg.markdown.pad == 0, what="at its top")
        assert "Synthesis line 0:" in screen_text(app)


async def test_finished_at_80x24_then_grown_to_200x50_the_aggregate_shows_its_text_under_its_title():
    app = FanoutApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(pilot, five_done())
        assert screen.query_one(PaneGrid).compact
        await pilot.resize_terminal(200, 50)
        await wait_for(pilot, lambda: not screen.query_one(PaneGrid).compact, what="the grid at 200×50")
        await drawn(pilot, screen)
        lines = screen_text(app).splitlines()
        title = next(i for i, line in enumerate(lines) if "aggregate · synthesize" in line)
        await wait_for(pilot, lambda: "Synthesis line 0:" in screen_text(app).splitlines()[title + 1],
                       what="the synthesis right under its title, no blank rows above it")


async def test_grown_from_100x30_to_120x40_the_list_gives_way_to_the_grid():
    app = FanoutApp()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_run(pilot, five_done())
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: not screen.query_one(PaneGrid).compact, what="the grid at 120×40")
        assert not screen.query_one("#branch-list").display


async def test_the_form_fits_80x24_with_its_fields_aligned():
    app = FanoutApp(RunOptions(base_url="http://127.0.0.1:9/v1", model="m"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#input-0")), what="the form")
        run = app.screen.query_one("#run")
        await wait_for(pilot, lambda: 0 < run.region.bottom <= 23, what="Run above the key bar, in view")
        fields = [app.screen.query_one(f"#{name}") for name in ("recipe", "input-0", "strategy", "model", "base-url")]
        assert len({(f.region.x, f.region.width) for f in fields}) == 1
