"""One bar per lane on a shared time axis: when it waited for dependencies, for a slot, for its first token, in
backoff, and streamed. Sequential runs draw a staircase, parallel ones a column, hybrid ones the shape of the recipe.

Each bar ends with the call's duration; once the run is over, a ◆ marks the lanes of its critical path. The bars
(`TimelineLanes`) scroll when there are more lanes than rows, and draw only the rows on show: a thousand lanes cost
what ten do. The axis and the legend (`TimelineAxis`, the colours named) sit under them; the compare screen stacks
several strategies' lanes over one axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget

from fanout.frontends.report import fmt_seconds
from fanout.frontends.state import BranchState, RunState
from fanout.frontends.status import Status
from fanout.strategies.recipe import AGGREGATE_ID

from ..fmt import fit_label, status_style

LABEL = 13  # cells for a lane's label: a mark for the critical path, the id cut with an ellipsis, a space
DURATION = 8  # cells kept after the bars for the last one's duration ("12.34 s")
CRITICAL = "◆"
BOUNDARY = "┆"  # where a later wave's planning began
QUEUE, BACKOFF = "$warning 60%", "$error"
# (glyph, style, what) for the legend, in the order a call passes through them.
LEGEND = (("·", "$text-muted", "dependencies"), ("░", QUEUE, "queue"), ("█", status_style(Status.AWAITING), "first token"),
          ("█", status_style(Status.STREAMING), "streaming"), ("▒", BACKOFF, "backoff"),
          ("█", status_style(Status.DONE), "done"), ("█", status_style(Status.FAILED), "failed"))


@dataclass(frozen=True)
class Piece:
    start: float
    end: float
    char: str
    style: str


@dataclass(frozen=True)
class Lane:
    label: str
    pieces: tuple[Piece, ...]
    took: str  # the call's duration once over, how long it has run while it runs; "" before it starts
    critical: bool = False


def branch_pieces(b: BranchState, now: float, stream_style: str | None = None) -> list[Piece]:
    """The lane's segments; a stream is drawn in the awaiting colour until its first token, then in the outcome's
    colour once over (the streaming one till then), or in `stream_style` when one is given (a strategy's)."""
    outcome = status_style(b.status if b.status.over else Status.STREAMING)
    pieces = []
    for seg in b.segments:
        end = seg.end if seg.end is not None else now
        if end <= seg.start:
            continue
        if seg.kind != "stream":
            style = {"deps": "$text-muted", "queue": QUEUE, "backoff": BACKOFF}.get(seg.kind, "")
            pieces.append(Piece(seg.start, end, {"deps": "·", "queue": "░", "backoff": "▒"}.get(seg.kind, "?"), style))
            continue
        style = stream_style or outcome
        first = b.first_token if b.first_token is not None else (end if not b.status.over else seg.start)
        if stream_style is None and seg.start < first:
            pieces.append(Piece(seg.start, min(first, end), "█", status_style(Status.AWAITING)))
        if first < end:
            pieces.append(Piece(max(seg.start, first), end, "█", style))
    return pieces


def lane_took(b: BranchState, now: float) -> str:
    if b.metrics is not None and b.status.over:
        return "cached" if b.metrics.cached else fmt_seconds(b.metrics.latency)
    if b.started is not None and not b.status.over:
        return fmt_seconds(max(0.0, now - b.started))
    return ""


def lanes_of(state: RunState, now: float, stream_style: str | None = None,
             over: dict[str, tuple[tuple, Lane]] | None = None) -> list[Lane]:
    """Every lane (the planner's first, then the branches'), then the aggregator's own span. `over` keeps the lanes
    of calls that are over from one redraw to the next: they no longer move with the clock (a thousand-branch run
    redraws its timeline four times a second)."""
    critical = set(state.metrics.critical_path_ids) if state.metrics else set()
    lanes = []
    for b in state.lanes():
        key = (b.status, len(b.segments), id(b.metrics), b.id in critical)
        kept = over.get(b.id) if over is not None and b.status.over else None
        if kept is not None and kept[0] == key:
            lanes.append(kept[1])
            continue
        lane = Lane(b.id, tuple(branch_pieces(b, now, stream_style)), lane_took(b, now), b.id in critical)
        if over is not None and b.status.over:
            over[b.id] = (key, lane)
        lanes.append(lane)
    agg = state.aggregate
    if agg.started is not None:
        end = agg.ended if agg.ended is not None else now
        style = stream_style or status_style(agg.status if agg.status.over else Status.STREAMING)
        took = agg.metrics.latency if agg.metrics else (end - agg.started)
        lanes.append(Lane("aggregate", (Piece(agg.started, max(end, agg.started), "█", style),), fmt_seconds(took),
                          AGGREGATE_ID in critical))
    return lanes


def wave_starts(state: RunState) -> list[float]:
    """When each later wave's planning began, in a run of several waves."""
    return [w.lane.segments[0].start for w in state.waves[1:] if w.lane.segments]


def draw_lane(lane: Lane, span: float, width: int, bounds: Sequence[float] = ()) -> Content:
    """One lane as a line of `width` cells: its label, its bars on an axis of `span` seconds, its duration; a
    line where each later wave began (`bounds`), in the cells the bars and the duration leave blank."""
    cells = max(1, width - LABEL - DURATION)
    row: list[tuple[str, str]] = [(" ", "")] * cells
    last = -1
    for p in lane.pieces:
        a = min(cells - 1, int(p.start / span * cells))
        b = min(cells, max(a + 1, round(p.end / span * cells)))
        for i in range(a, b):
            row[i] = (p.char, p.style)
        last = max(last, b)
    took = f" {lane.took}" if lane.took and last >= 0 else ""
    marks = sorted(min(cells - 1, int(t / span * cells)) for t in bounds)
    for i in marks:
        if i < last and row[i][0] == " ":
            row[i] = (BOUNDARY, "$text-muted")
    mark = (CRITICAL, "bold $accent") if lane.critical else (" ", "")
    label = fit_label(lane.label, LABEL - 2)
    parts: list = [mark, (f"{label:<{LABEL - 2}} ", "bold" if lane.critical else "$text-muted")]
    parts += [(text, style) if style else text for text, style in _runs(row[:max(last, 0)])]
    if took:
        parts.append((took, "$text-muted"))
    at = max(last, 0) + len(took)
    for i in marks:  # the lines past this lane's bars and duration
        if i >= at:
            parts += [" " * (i - at), (BOUNDARY, "$text-muted")]
            at = i + 1
    return Content.assemble(*parts)


def _runs(row: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Adjacent cells of one style as one span: a few spans per bar, not one per cell."""
    out: list[tuple[str, str]] = []
    for char, style in row:
        if out and out[-1][1] == style:
            out[-1] = (out[-1][0] + char, style)
        else:
            out.append((char, style))
    return out


class TimelineLanes(ScrollView, can_focus=True):
    """The bars, one line per lane, scrolling when they do not fit; only the lines on show are drawn."""

    DEFAULT_CSS = """
    TimelineLanes { height: auto; scrollbar-size-vertical: 1; overflow-x: hidden; }
    TimelineLanes:focus { background-tint: $foreground 5%; }
    """

    def __init__(self, state: RunState, clock: Callable[[], float], *, span: Callable[[], float] | None = None,
                 stream_style: str | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.clock = clock
        self.span = span or clock  # the axis: the run's own time, or a span shared with other timelines
        self.stream_style = stream_style
        self._drawn: dict[int, Strip] = {}
        self._lanes: list[Lane] | None = None
        self._over: dict[str, tuple[tuple, Lane]] = {}  # lanes_of's lanes of calls that are over

    def lanes(self) -> list[Lane]:
        if self._lanes is None:
            self._lanes = lanes_of(self.state, self.clock(), self.stream_style, self._over)
        return self._lanes

    def redraw(self) -> None:
        """The run moved on: the lanes again (their number sets how far it scrolls), drawn on the next repaint."""
        self._lanes, self._drawn = None, {}
        count = len(self.lanes())
        if self.virtual_size.height != count:
            self.virtual_size = Size(self.size.width, count)
        self.refresh()

    def on_resize(self) -> None:
        self.redraw()

    def render_line(self, y: int) -> Strip:
        index = y + round(self.scroll_offset.y)
        strip = self._drawn.get(index)
        if strip is None:
            lanes = self.lanes()
            width = self.scrollable_content_region.width
            if 0 <= index < len(lanes) and width > LABEL + DURATION:
                content = draw_lane(lanes[index], max(self.span(), 1e-6), width, wave_starts(self.state))
                strip = Visual.to_strips(self, content, width, 1, self.visual_style, pad=True)[0]
            else:
                strip = Strip.blank(width, self.rich_style)
            self._drawn[index] = strip
        return strip

    def text(self, width: int = 100) -> list[str]:
        """Every lane as plain text, as of now (what the rows say, whichever are on show)."""
        self.redraw()
        span, bounds = max(self.span(), 1e-6), wave_starts(self.state)
        return [draw_lane(lane, span, width, bounds).plain for lane in self.lanes()]


class TimelineAxis(Widget):
    """Under the bars: the time axis, then a legend naming each colour the bars use, on as many lines as it takes."""

    DEFAULT_CSS = """
    TimelineAxis { height: auto; }
    """

    def __init__(self, span: Callable[[], float], *, lanes: Callable[[], list[Lane]] | None = None,
                 waves: Callable[[], bool] | None = None, streams: Sequence[tuple[str, str]] = (),
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.span = span
        self.lanes = lanes  # the lanes drawn: the legend names only what they use (all of it without them)
        self.waves = waves  # whether the bars show where later waves began
        # (style, name) of each `stream_style` the lanes were drawn with, named in place of the status colours
        self.streams = tuple(streams)

    def legend_items(self) -> list[Content]:
        lanes = self.lanes() if self.lanes is not None else None
        used = {(p.char, p.style) for lane in lanes for p in lane.pieces} if lanes is not None else None
        key = LEGEND if not self.streams else [
            *(item for item in LEGEND if item[0] != "█"), *(("█", style, name) for style, name in self.streams)]
        items = [Content.assemble((glyph, style), " ", (what, "$text-muted"))
                 for glyph, style, what in key if used is None or (glyph, style) in used]
        if lanes is None or any(lane.critical for lane in lanes):
            items.append(Content.assemble((CRITICAL, "bold $accent"), " ", ("critical path", "$text-muted")))
        if self.waves is not None and self.waves():
            items.append(Content.assemble((BOUNDARY, "$text-muted"), " ", ("next wave", "$text-muted")))
        return items

    def legend(self, width: int = 10_000) -> list[Content]:
        """The legend's lines, each at most `width` cells, under the bars (after the labels' column)."""
        lines: list[list[Content]] = [[]]
        room = max(12, width - LABEL)
        for item in self.legend_items():
            used = sum(i.cell_length + 2 for i in lines[-1])
            if lines[-1] and used + item.cell_length > room:
                lines.append([])
            lines[-1].append(item)
        return [Content.assemble(" " * LABEL, Content("  ").join(items)) for items in lines if items]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1 + len(self.legend(width))

    def render(self) -> Content:
        width = self.content_size.width
        cells = max(1, width - LABEL - DURATION)
        right = fmt_seconds(max(self.span(), 0.0))
        axis = Content.styled(f"{'':<{LABEL}}0{right:>{cells - 1}}", "$text-muted")
        return Content("\n").join([axis, *self.legend(width)])


class Timeline(Vertical):
    """A run's timeline: its lanes over its own axis."""

    DEFAULT_CSS = """
    Timeline { height: auto; }
    """

    def __init__(self, state: RunState, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lanes = TimelineLanes(state, clock, id="timeline-lanes")
        self.axis = TimelineAxis(clock, lanes=self.lanes.lanes, waves=lambda: len(state.waves) > 1,
                                 id="timeline-axis")

    def compose(self):
        yield self.lanes
        yield self.axis

    def rows(self) -> list[tuple[str, tuple[Piece, ...]]]:
        """(label, pieces) of every lane, as of now."""
        self.lanes.redraw()
        return [(lane.label, lane.pieces) for lane in self.lanes.lanes()]

    def redraw(self) -> None:
        self.lanes.redraw()
        self.axis.refresh(layout=len(self.axis.legend(self.axis.size.width)) + 1 != self.axis.size.height)
