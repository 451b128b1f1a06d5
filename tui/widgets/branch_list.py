"""The compact list used when there are too many branches for a grid: one line per branch, the current one
highlighted; a click or n/p chooses which branch the big pane shows."""

from __future__ import annotations

from typing import Callable

from textual import events
from textual.content import Content
from textual.message import Message
from textual.widget import Widget

from fanout.frontends.state import RunState
from fanout.frontends.status import LOOK

from .. import fmt


class BranchList(Widget):
    DEFAULT_CSS = """
    BranchList { height: auto; }
    """

    class Picked(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, state: RunState, clock: Callable[[], float], current: Callable[[], int], *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.clock = clock
        self.current = current  # the grid's current pane (its index)

    def entries(self) -> list[int | str]:
        """What each line shows: a lane (its index in the run's lanes) or, in a run of several waves, the heading
        of the wave whose lanes follow."""
        several = len(self.state.waves) > 1
        out: list[int | str] = []
        wave = 0
        for i, b in enumerate(self.state.lanes()):
            if several and not b.info.stage and b.info.wave != wave:
                wave = b.info.wave
                out.append(f"wave {wave}")
            out.append(i)
        return out

    def render(self) -> Content:
        now = self.clock()
        width = self.content_size.width
        lanes = self.state.lanes()
        lines = []
        current = self.current()
        for entry in self.entries():
            if isinstance(entry, str):
                lines.append(Content.styled(f"── {entry} ".ljust(width, "─")[:width], "$text-muted"))
                continue
            i, b = entry, lanes[entry]
            badge = fmt.badge(b, now, self.state)
            tokens = b.metrics.output_tokens if b.metrics else b.tokens_seen
            shown = LOOK[badge.kind]
            label = f"{shown.glyph} {b.id}"
            right = f"{tokens} tok"
            room = max(1, width - len(right) - 1)
            text = f"{label[:room]:<{room}} {right}"
            style = "reverse" if i == current else (f"${shown.colour}" if shown.colour else "")
            lines.append(Content.styled(text, style) if style else Content(text))
        return Content("\n").join(lines)

    def on_click(self, event: events.Click) -> None:
        entries = self.entries()
        if 0 <= event.y < len(entries) and isinstance(entries[event.y], int):
            self.post_message(self.Picked(entries[event.y]))
