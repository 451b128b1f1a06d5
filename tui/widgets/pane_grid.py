"""Where the panes go, and which one is current. The grid owns the panes: one per lane of the run (the planner's,
the branches', the aggregate's reduce steps), in lane order, then the aggregator's.

Room is given by content. The branches fill balanced rows (five make 3 + 2, or one row of five on a wide screen),
the aggregator a row of its own under them. A row whose answers are all in takes the height they need; rows still
streaming share the rest. Once every branch is over, the aggregator is the main pane: it takes what it needs (up to
two thirds) and whatever the branches leave. When the rows would be too short (dozens of branches, a small
terminal), a compact layout instead: a list of the branches beside the current pane and the aggregator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from textual import on
from textual.containers import Container, Horizontal
from textual.content import Content

from fanout.frontends.state import RunState

from .aggregate_pane import AggregatePane
from .branch_list import BranchList
from .branch_pane import BranchPane
from .stream_pane import StreamPane

MIN_W = 40  # the narrowest useful pane: five across at 200 columns
MIN_H = 5  # the shortest row a streaming pane gets: its border and three lines
AGGREGATE_MIN = 3  # the aggregator's row while it waits: its border and one line


@dataclass(frozen=True)
class Shape:
    """How the branches fill the grid: panes per row, on a grid of `columns` cells."""

    rows: tuple[int, ...]

    @property
    def columns(self) -> int:
        """Cells per row, so that every row's panes are equally wide (3 + 2 on six cells: spans 2 and 3)."""
        return math.lcm(*self.rows)

    def spans(self) -> list[int]:
        """Each branch pane's span, in order."""
        return [self.columns // count for count in self.rows for _ in range(count)]

    def row_slices(self) -> list[slice]:
        starts = [sum(self.rows[:i]) for i in range(len(self.rows))]
        return [slice(start, start + count) for start, count in zip(starts, self.rows)]


def shape(count: int, width: int, room: int) -> Shape | None:
    """Balanced rows of branches that fit `width` × `room` with the aggregator's row (five on at most four across
    make 3 + 2, seven on three make 3 + 2 + 2); None when they do not fit."""
    if count == 0:
        return None
    rows = math.ceil(count / max(1, min(count, width // MIN_W)))
    if count > 2 and rows * MIN_H + AGGREGATE_MIN > room:
        return None
    base, extra = divmod(count, rows)
    return Shape(tuple(base + (i < extra) for i in range(rows)))


def row_heights(needs: list[int | None], aggregate: int | None, room: int, over: bool) -> list[str]:
    """The grid's rows: each branch row's need (None: still growing), then the aggregator's, as Textual scalars.

    While the branches run, a row that is all in takes what it needs up to its fair share, and the growing rows
    share the rest (the aggregator, waiting, only its few lines). Once they are over, the aggregator is the main
    pane: when everything fits, each row takes what it needs and the aggregator the rest; otherwise the aggregator
    takes what it needs up to two thirds, and the branch rows share what is left."""
    fair = max(MIN_H, room // (len(needs) + 1))
    if not over:
        rows = [str(need) if need is not None and need <= fair else "1fr" for need in needs]
        if aggregate is not None and aggregate <= fair and "1fr" in rows:
            return rows + [str(max(AGGREGATE_MIN, aggregate))]
        return rows + ["1fr"]
    known = [need if need is not None else fair for need in needs]
    if aggregate is not None and sum(known) + aggregate <= room:
        return [str(need) for need in known] + ["1fr"]
    main = room * 2 // 3 if aggregate is None else min(aggregate, room * 2 // 3)
    share = max(MIN_H, (room - main) // max(1, len(needs)))
    return [str(min(need, share)) for need in known] + ["1fr"]


class PaneGrid(Horizontal):
    def __init__(self, state: RunState, clock: Callable[[], float], room: Callable[[bool], int] | None = None, *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.room = room or (lambda compact: self.size.height)  # the rows the panes get, in either layout
        self.panes: dict[str, BranchPane] = {}  # lane id -> its pane, in lane order
        self.aggregate = AggregatePane(state, id="aggregate-pane")
        self.branch_list = BranchList(state, clock, lambda: self.current, id="branch-list")
        self.grid = Container(id="panes")
        self.current = 0  # index into pane_list(): the pane shown (compact) and focused
        self.compact = False
        self.shape: Shape | None = None
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
        self.branch_list.styles.height = len(self.branch_list.entries())
        if first:
            self.grid.mount_all([*new, self.aggregate])
            self.call_after_refresh(self.focus_pane, 0)
        elif new:
            self.grid.mount_all(new, before=self.aggregate)
        self.call_after_refresh(self.place_panes)

    def on_resize(self) -> None:
        self.call_after_refresh(self.place_panes)

    def place_panes(self) -> None:
        """The layout for this size: the grid's shape, or the compact list; then the rows' heights."""
        width = self.size.width or self.screen.size.width
        if not self.panes or width == 0:
            return
        self.shape = shape(len(self.panes), width, self.room(False))
        self.compact = self.shape is None
        self.branch_list.display = self.compact
        self.screen.set_class(self.compact, "-compact")
        grid = self.grid
        if self.compact:
            grid.styles.grid_size_columns = 1
            spans = {pane: 1 for pane in self.pane_list()}
        else:
            grid.styles.grid_size_columns = self.shape.columns
            spans = dict(zip(self.panes.values(), self.shape.spans()))
            spans[self.aggregate] = self.shape.columns
        for pane, span in spans.items():
            if pane.styles.column_span != span:
                pane.styles.column_span = span
        self._heights = None
        self.reflow()
        grid.refresh(layout=True)  # spans set inline do not relayout the grid by themselves
        self._show_current()

    _heights: str | None = None

    def heights(self) -> str | None:
        """The rows' heights from what the panes hold now (None before the panes are placed)."""
        if not self.panes or (self.shape is None and not self.compact):
            return None
        over = all(b.status.over for b in self.state.lanes())
        panes = list(self.panes.values())
        if self.compact:
            current = panes[self.current] if self.current < len(panes) else panes[-1]
            needs = [current.content_rows()]
        else:
            needs = []
            for row in self.shape.row_slices():  # type: ignore[union-attr]
                rows = [p.content_rows() for p in panes[row]]
                needs.append(None if None in rows else max(rows))  # type: ignore[type-var]
        aggregate = self.aggregate.content_rows() if self.aggregate.ended else self._waiting_rows()
        return " ".join(row_heights(needs, aggregate, self.room(self.compact), over))

    @property
    def fitted(self) -> bool:
        """The rows are sized to what the panes hold now (the run screen reflows a few times a second)."""
        return self.heights() in (None, self._heights)

    def reflow(self) -> None:
        """The rows' heights from what the panes hold now; a layout only when they change."""
        heights = self.heights()
        if heights is not None and heights != self._heights:
            self._heights = heights
            self.grid.styles.grid_rows = heights

    def _waiting_rows(self) -> int | None:
        """The aggregator before it starts takes only its border and what it says; once it streams, it grows."""
        if self.state.aggregate.chunks or self.state.aggregate.started is not None:
            return None
        agg = self.aggregate
        width = max(1, agg.tail.content_region.width or agg.doc_width() or 40)
        said = len(Content(agg.tail.placeholder).wrap(width)) if agg.tail.placeholder else 1
        return 2 + agg.extra_rows(width) + said

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
        if self.compact:
            self.reflow()  # the current branch's row is sized to it
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
