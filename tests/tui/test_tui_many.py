"""A run of hundreds of branches in the compact layout (issue 30): a pane is made when it is shown, not one per
branch; a pane made late shows its text; the list of branches keeps the current one in view and draws only the
lines on show."""

from __future__ import annotations

from fanout.strategies.events import (
    AggregateDone,
    AggregateStarted,
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
from fanout.tui.widgets.branch_list import BranchList
from fanout.tui.widgets.branch_pane import BranchPane
from fanout.tui.widgets.pane_grid import KEPT
from test_tui_reading import open_run
from tuikit import STARTED_AT, screen_text, wait_for, words

SIZE = (120, 40)
COUNT = 300


def ticket(i: int) -> str:
    return f"Ticket {i} is about billing.\n\nThe customer was charged twice for invoice {i}."


def batch_run(count: int) -> list:
    infos = tuple(BranchInfo(f"t{i:03d}", f"Ticket {i}") for i in range(count))
    ev: list = [RunStarted(0.0, "20260101-000000-many01", "tickets", "parallel", "custom", "m", {}, infos,
                           "merge", STARTED_AT)]
    for i, info in enumerate(infos):
        ev += [BranchQueued(0.0, info.id), BranchStarted(0.1, info.id)]
        ev += [BranchToken(0.2, info.id, w) for w in words(ticket(i))]
        ev.append(BranchDone(0.5, info.id, ticket(i), BranchMetrics(latency=0.4, output_tokens=14)))
    ev += [AggregateStarted(0.5, "merge"), AggregateDone(0.5, "merge", "merged"),
           RunDone(0.5, "ok", RunMetrics(wall=0.5, calls_sum=0.4 * count, concurrency=0.8 * count))]
    return ev


async def shown(pilot, screen, index: int) -> BranchPane:
    """Moves to the pane at `index` and waits until it is on screen, focused, drawn."""
    screen.focus_pane(index)
    bid = f"t{index:03d}"
    await wait_for(pilot, lambda: screen.panes[bid].on_screen and screen.panes[bid].has_focus
                   and not screen.pacer.busy, what=f"{bid} shown")
    return screen.panes[bid]


async def test_the_compact_layout_makes_the_panes_it_shows_and_lets_go_of_the_rest():
    app = FanoutApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, batch_run(COUNT))
        assert screen.grid.compact and len(screen.panes) == COUNT
        assert len(screen.query(BranchPane)) == 1  # the current pane only, not one per branch

        late = await shown(pilot, screen, 250)  # a pane made long after its branch ended shows all of it
        assert late.shown_text == ticket(250) and "invoice 250" in screen_text(app)

        for index in range(251, 252 + KEPT):  # more panes than are kept
            await shown(pilot, screen, index)
        assert len(screen.query(BranchPane)) == 1 + KEPT
        assert screen.panes.made("t250") is None and not late.is_attached  # the first of them left the screen

        again = await shown(pilot, screen, 250)  # made again from the run state, its text whole
        assert again is not late and again.shown_text == ticket(250) and "invoice 250" in screen_text(app)

        screen.set_focus(None)  # with no focus the current pane is the one acted on; no other pane is made to find it
        assert screen.focused_pane() is again and len(screen.panes.made_panes()) == 1 + KEPT


async def test_the_list_of_branches_keeps_the_current_one_in_view_and_draws_only_its_lines_on_show(monkeypatch):
    app = FanoutApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, batch_run(COUNT))
        listing = screen.query_one(BranchList)
        assert "t000" in screen_text(app) and "t290" not in screen_text(app)

        await shown(pilot, screen, 290)
        await wait_for(pilot, lambda: "t290" in screen_text(app), what="t290 in the list")
        row = next(line for line in screen_text(app).splitlines() if "t290" in line)
        assert "✓ t290" in row  # the list's line, not only the pane's title

        drawn_lines: list[int] = []
        line = BranchList.line
        monkeypatch.setattr(BranchList, "line", lambda self, entry, *a: drawn_lines.append(entry) or line(self, entry, *a))
        listing.refresh()
        await wait_for(pilot, lambda: len(drawn_lines) > 0, what="the list redrawn")
        await pilot.pause()
        assert 0 < len(drawn_lines) <= listing.size.height and 290 in drawn_lines


async def test_a_placement_that_comes_after_its_screen_gave_way_does_nothing():
    # A comparison replaces each run screen by the next; the grid's calls made after a refresh may come after that.
    app = FanoutApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, batch_run(3))
        grid = screen.grid
        await app.pop_screen()
        await wait_for(pilot, lambda: not grid.is_attached, what="the run screen gone")
        grid.place_panes()
        grid.focus_pane(1)
