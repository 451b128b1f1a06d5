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
from collections.abc import Iterator, Mapping
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
KEPT = 8  # panes kept in the screen, hidden, after the compact layout showed them (scroll positions kept)


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


class Panes(Mapping[str, BranchPane]):
    """Lane id -> its pane, in lane order. A pane is made the first time it is asked for: a run of a thousand
    lanes makes the panes on show (all of them when the grid holds them; in the compact layout, the few a reader
    opens), not a thousand sets of widgets."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self._made: dict[str, BranchPane] = {}
        self._count = 0  # panes made so far: their ids

    def __getitem__(self, lane_id: str) -> BranchPane:
        pane = self._made.get(lane_id)
        if pane is None:
            lane = self.state.lane(lane_id)
            if lane is None:
                raise KeyError(lane_id)
            pane = self._made[lane_id] = BranchPane(lane, self.state, id=f"pane-{self._count}")
            self._count += 1
        return pane

    def __iter__(self) -> Iterator[str]:
        return iter([lane.id for lane in self.state.lanes()])

    def __len__(self) -> int:
        return len(self.state.branches) + len(self.state.waves)  # what state.lanes() holds

    def __contains__(self, lane_id: object) -> bool:
        return isinstance(lane_id, str) and self.state.lane(lane_id) is not None

    def made(self, lane_id: str) -> BranchPane | None:
        """The pane if it has been made (an event for a lane nobody shows needs no pane)."""
        return self._made.get(lane_id)

    def made_panes(self) -> list[BranchPane]:
        return list(self._made.values())

    def forget(self, lane_id: str) -> None:
        """The pane left the screen for good: the next one asked for is made afresh."""
        self._made.pop(lane_id, None)


class PaneGrid(Horizontal):
    def __init__(self, state: RunState, clock: Callable[[], float], room: Callable[[bool], int] | None = None, *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.room = room or (lambda compact: self.size.height)  # the rows the panes get, in either layout
        self.panes = Panes(state)  # lane id -> its pane, in lane order
        self.aggregate = AggregatePane(state, id="aggregate-pane")
        self.branch_list = BranchList(state, clock, lambda: self.current, id="branch-list")
        self.grid = Container(id="panes")
        self.current = 0  # index into pane_list(): the pane shown (compact) and focused
        self.compact = False
        self.shape: Shape | None = None
        self._ids: list[str] = []  # the lanes when last placed
        self._shown: list[BranchPane] = []  # the branch panes in the screen, the most recently current first

    def compose(self):
        yield self.branch_list
        yield self.grid

    def on_mount(self) -> None:
        self.branch_list.display = False

    def pane_list(self) -> list[StreamPane]:
        """Every pane, in order (made on the way): the lanes', then the aggregator's."""
        return [*self.panes.values(), self.aggregate]

    def mounted_panes(self) -> list[StreamPane]:
        """The panes in the screen: all of them in the grid; in the compact layout, the current one and the few
        shown last."""
        return [p for p in [*self.panes.made_panes(), self.aggregate] if p.parent is not None]

    def pane_at(self, index: int) -> StreamPane:
        ids = self._ids
        return self.panes[ids[index]] if index < len(ids) else self.aggregate

    def index_of(self, pane: StreamPane) -> int:
        return self._ids.index(pane.branch_id) if isinstance(pane, BranchPane) else len(self._ids)

    def sync(self) -> None:
        """The run grew (it started, a plan added branches, the aggregate added reduce steps): placed again."""
        ids = list(self.panes)
        if ids == self._ids:
            return
        self._ids = ids
        if self.aggregate.parent is None:
            self.grid.mount(self.aggregate)
            self.call_after_refresh(self.focus_pane, 0)
        self.call_after_refresh(self.place_panes)

    def _show(self, panes: list[BranchPane]) -> None:
        """Into the grid, each before the next pane in lane order that is already there (the aggregator last)."""
        for pane in panes:
            if pane.parent is None:
                later = self._ids[self.index_of(pane) + 1:]
                before = next((p for lane in later if (p := self.panes.made(lane)) is not None
                               and p.parent is not None), self.aggregate)
                self.grid.mount(pane, before=before)
            if pane in self._shown:
                self._shown.remove(pane)
            self._shown.insert(0, pane)

    def _let_go(self) -> None:
        """The compact layout keeps the current pane and the KEPT shown last in the screen; the others leave it
        (made afresh from the run state when shown again)."""
        keep = 1 + KEPT if self.compact else len(self._shown)
        for pane in self._shown[keep:]:
            self.panes.forget(pane.branch_id)
            pane.remove()
        del self._shown[keep:]

    def on_resize(self) -> None:
        self.call_after_refresh(self.place_panes)

    def place_panes(self) -> None:
        """The layout for this size: the grid's shape, or the compact list; then the rows' heights."""
        if not self.is_attached:
            return  # its screen gave way (a comparison's next run) before this call, made after a refresh, came
        width = self.size.width or self.screen.size.width
        if not self._ids or width == 0:
            return
        self.shape = shape(len(self._ids), width, self.room(False))
        self.compact = self.shape is None
        self.branch_list.display = self.compact
        self.branch_list.follow()
        self.screen.set_class(self.compact, "-compact")
        current = self.pane_at(self.current)
        if self.compact:
            self._show([current] if isinstance(current, BranchPane) else [])
        else:
            self._show([self.panes[lane] for lane in reversed(self._ids)])
        grid = self.grid
        if self.compact:
            grid.styles.grid_size_columns = 1
            spans = {pane: 1 for pane in self.mounted_panes()}
        else:
            grid.styles.grid_size_columns = self.shape.columns
            spans = {self.panes[lane]: span for lane, span in zip(self._ids, self.shape.spans())}
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
        if not self._ids or (self.shape is None and not self.compact):
            return None
        over = all(b.status.over for b in self.state.lanes())
        if self.compact:
            current = self.pane_at(min(self.current, len(self._ids) - 1))
            needs = [current.content_rows()]
        else:
            panes = [self.panes[lane] for lane in self._ids]
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
        """In the compact layout only the current branch is displayed (the few kept hidden cost little)."""
        current = self.pane_at(self.current)
        for pane in self._shown:
            show = not self.compact or pane is current
            if pane.display != show:
                pane.display = show
                pane.dirty = True
        self._let_go()

    def focus_pane(self, index: int) -> None:
        count = len(self._ids) + 1
        if count == 1 or not self.is_attached:
            return
        self.current = index % count
        self.branch_list.refresh()
        self.branch_list.follow()
        pane = self.pane_at(self.current)
        if isinstance(pane, BranchPane):
            if pane.parent is None:
                pane.styles.column_span = 1  # the compact layout's: the grid shows every pane already
            self._show([pane])
        self._show_current()
        if self.compact:
            self.reflow()  # the current branch's row is sized to it
        # Now, not after the next frame: reading is moving from pane to pane, and a key pressed right after the
        # move (z to zoom) must find the new pane focused. A pane just displayed (compact) is focusable at once.
        pane.focus()
        if self.screen.maximized is not None:
            self.call_after_refresh(self.screen.maximize, pane, False)

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, StreamPane) and event.widget.parent is self.grid:
            self.current = self.index_of(event.widget)
            self.branch_list.refresh()
            self.branch_list.follow()

    @on(BranchList.Picked)
    def _picked(self, event: BranchList.Picked) -> None:
        self.focus_pane(event.index)
