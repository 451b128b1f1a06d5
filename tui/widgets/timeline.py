"""One bar per branch on a shared time axis: when it waited for dependencies, for a slot, in backoff, and
streamed. Sequential runs draw a staircase, parallel ones a column, hybrid ones the shape of the recipe."""

from __future__ import annotations

from typing import Callable

from textual.content import Content
from textual.widget import Widget

from fanout.frontends.report import fmt_seconds
from fanout.frontends.state import FAILED, RunState
from fanout.frontends.status import Status

from ..fmt import status_style

CHAR = {"deps": "·", "queue": "░", "backoff": "▒", "stream": "█"}
STYLE = {"deps": "$text-muted", "queue": "$warning 60%", "backoff": "$error"}
LABEL = 12


class Timeline(Widget):
    DEFAULT_CSS = """
    Timeline { height: auto; }
    """

    def __init__(self, state: RunState, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.clock = clock

    def rows(self) -> list[tuple[str, list[tuple[float, float, str, str]]]]:
        """(label, [(start, end, char, style)]) per bar; the engine's segments, the aggregator's own span."""
        now = self.clock()
        bars = []
        for b in self.state.lanes():  # the planner's call first, when the recipe has one
            pieces = []
            for seg in b.segments:
                end = seg.end if seg.end is not None else now
                if end <= seg.start:
                    continue
                if seg.kind == "stream":  # a stream in its outcome's colour once over, in the streaming one till then
                    style = status_style(b.status if b.status.over else Status.STREAMING)
                else:
                    style = STYLE.get(seg.kind, "")
                pieces.append((seg.start, end, CHAR.get(seg.kind, "?"), style))
            bars.append((b.id, pieces))
        agg = self.state.aggregate
        if agg.started is not None:
            start = agg.started
            end = agg.ended if agg.ended is not None else now
            style = "$error" if self.state.aggregate.status == FAILED else "$secondary"
            bars.append(("aggregate", [(start, max(end, start), "█", style)]))
        return bars

    def render(self) -> Content:
        width = self.content_size.width
        bars = self.rows()
        if width < LABEL + 12 or not bars:
            return Content("")
        span = max(self.clock(), 1e-6)
        cells = width - LABEL - 1
        lines: list[Content] = []
        for label, pieces in bars:
            row: list[tuple[str, str]] = [(" ", "")] * cells
            for start, end, char, style in pieces:
                a = min(cells - 1, int(start / span * cells))
                b = min(cells, max(a + 1, round(end / span * cells)))
                for i in range(a, b):
                    row[i] = (char, style)
            lines.append(Content.assemble((f"{label[:LABEL - 1]:<{LABEL}}", "$text-muted"), " ", *((t, st) if st else t for t, st in _runs(row))))
        right = fmt_seconds(span)
        axis = f"{'':<{LABEL}} 0{right:>{cells - 1}}"
        lines.append(Content.styled(axis, "$text-muted"))
        legend = "  ".join(f"{CHAR[k]} {name}" for k, name in
                           (("deps", "dependencies"), ("queue", "queue"), ("backoff", "backoff"), ("stream", "stream")))
        lines.append(Content.styled(f"{'':<{LABEL}} {legend}"[:width], "$text-muted"))
        return Content("\n").join(lines)


def _runs(row: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Adjacent cells of one style as one span: a few spans per bar, not one per cell."""
    out: list[tuple[str, str]] = []
    for char, style in row:
        if out and out[-1][1] == style:
            out[-1] = (out[-1][0] + char, style)
        else:
            out.append((char, style))
    return out
