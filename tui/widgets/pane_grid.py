"""Where the panes go, and which one is current. The grid owns the panes: one per lane of the run (the planner's,
the branches', the aggregate's reduce steps), in lane order, then the aggregator's.

A grid with as many columns as fit, the aggregator on a row of its own; or, when the rows would be too short
(dozens of branches, a small terminal), a compact list of the branches beside the current pane and the aggregator.
"""

from __future__ import annotations

import math
from typing import Callable

from textual import on
from textual.containers import Container, Horizontal

from fanout.frontends.state import RunState

from .aggregate_pane import AggregatePane
from .branch_list import BranchList
from .branch_pane import BranchPane
from .stream_pane import StreamPane

MIN_W, MIN_H = 48, 7  # the smallest useful pane
BOTTOM_GROWTH = 10 - 6  # the timeline's rows in the grid layout less the compact one's (screens/run.py LANES)


class PaneGrid(Horizontal):
    def __init__(self, state: RunState, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.panes: dict[str, BranchPane] = {}  # lane id -> its pane, in lane order
        self.aggregate = AggregatePane(state, id="aggregate-pane")
        self.branch_list = BranchList(state, clock, lambda: self.current, id="branch-list")
        self.grid = Container(id="panes")
        self.current = 0  # index into pane_list(): the pane shown (compact) and focused
        self.compact = False
        self._made = 0  # panes made so far: their ids

    def compose(self):
        yield self.branch_list
        yield self.grid

    def on_mount(self) -> None:
        self.branch_list.display = False

    def pane_list(self) -> list[StreamPane]:
        return [*self.panes.values(), self.aggregate]

    def sync(self) -> None:
        """A pane for every lane of the run not shown yet (the run starts, a plan adds branches, the aggregate adds
        reduce steps), in lane order, before the aggregator."""
        lanes = self.state.lanes()
        if [lane.id for lane in lanes] == list(self.panes):
            return
        first = self.aggregate.parent is None
        new = []
        panes = {}
        for lane in lanes:
            pane = self.panes.get(lane.id)
            if pane is None:
                pane = BranchPane(lane, self.state, id=f"pane-{self._made}")
                self._made += 1
                new.append(pane)
            panes[lane.id] = pane
        self.panes = panes
        self.branch_list.styles.height = len(panes)
        if first:
            self.grid.mount_all([*new, self.aggregate])
            self.call_after_refresh(self.focus_pane, 0)
        elif new:
            self.grid.mount_all(new, before=self.aggregate)
        self.call_after_refresh(self.place_panes)

    def on_resize(self) -> None:
        self.call_after_refresh(self.place_panes)

    def place_panes(self) -> None:
        width, height = self.size
        if not self.panes or width == 0 or height == 0:
            return
        count = len(self.panes)
        cols = max(1, min(count, width // MIN_W))
        rows = math.ceil(count / cols) + 1
        need = rows * MIN_H
        # Hysteresis: leaving the compact layout lets the timeline below grow (fanout.tcss caps it lower while
        # compact), which takes rows from here; deciding on today's height alone flipped the layout back and
        # forth at some sizes (120×40 with five branches), ending wherever the race stopped.
        room = height - BOTTOM_GROWTH if self.compact else height
        self.compact = count > 2 and need > room
        self.branch_list.display = self.compact
        self.screen.set_class(self.compact, "-compact")
        grid = self.grid
        if self.compact:
            cols, rows = 1, 2
            grid.styles.grid_rows = "3fr 2fr"
        else:
            grid.styles.grid_rows = "1fr"
        grid.styles.grid_size_columns, grid.styles.grid_size_rows = cols, rows
        # Textual's grid does not wrap a span that overflows the row: the last branch takes the row's empty cells,
        # so the aggregator starts a row of its own.
        last = list(self.panes.values())[-1]
        for pane in self.panes.values():
            pane.styles.column_span = 1 + (-count % cols if pane is last else 0)
        self.aggregate.styles.column_span = cols
        grid.refresh(layout=True)  # spans set inline do not relayout the grid by themselves
        self._show_current()

    def _show_current(self) -> None:
        """In the compact layout only the current branch is displayed; hidden panes cost nothing to keep."""
        for i, pane in enumerate(self.panes.values()):
            show = not self.compact or i == self.current
            if pane.display != show:
                pane.display = show
                pane.dirty = True

    def focus_pane(self, index: int) -> None:
        panes = self.pane_list()
        if not self.panes:
            return
        self.current = index % len(panes)
        self.branch_list.refresh()
        self._show_current()
        pane = panes[self.current]
        # Now, not after the next frame: reading is moving from pane to pane, and a key pressed right after the
        # move (z to zoom) must find the new pane focused. A pane just displayed (compact) is focusable at once.
        pane.focus()
        if self.screen.maximized is not None:
            self.call_after_refresh(self.screen.maximize, pane, False)

    def on_descendant_focus(self, event) -> None:
        panes = self.pane_list()
        if event.widget in panes:
            self.current = panes.index(event.widget)
            self.branch_list.refresh()

    @on(BranchList.Picked)
    def _picked(self, event: BranchList.Picked) -> None:
        self.focus_pane(event.index)
