"""The compact list used when there are too many branches for a grid: one line per branch, the current one
highlighted; a click or n/p chooses which branch the big pane shows.

A line carries what a glance needs, btop-style: the status glyph, the id, what the branch says (its answer where
it has an answer form, else its first line; its cause when it failed), a small bar of its tokens against the
most any branch has, and the count. Above the lines of a batch (branches with an answer form), one line sums the
answers: "billing 7 · bug 9 · 3 unparsed".

The list scrolls, keeps the current branch in view and draws only the lines on show: a thousand branches cost
what twenty do."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable

from textual import events
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual

from fanout.core.text import strip_controls
from fanout.frontends.state import BranchState, RunState
from fanout.frontends.status import LOOK

from .. import fmt
from ..fmt import cause, fit_label


@dataclass(frozen=True)
class Frame:
    """What every line of one repaint shares: the time, the lanes, the lines' entries and the columns' widths."""

    now: float
    lanes: list[BranchState]
    entries: list[int | str]
    most: int
    id_width: int
    current: int


class BranchList(ScrollView):
    DEFAULT_CSS = """
    BranchList { scrollbar-size-vertical: 1; overflow-x: hidden; }
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
        self._frame: Frame | None = None

    def entries(self) -> list[int | str]:
        """What each line shows: a lane (its index in the run's lanes) or a heading: a batch's summary of its
        answers first, then, in a run of several waves, the heading of the wave whose lanes follow."""
        several = len(self.state.waves) > 1
        lanes = self.state.lanes()
        summary = answers_summary(lanes)
        out: list[int | str] = [summary] if summary else []
        wave = 0
        for i, b in enumerate(lanes):
            if several and not b.info.stage and b.info.wave != wave:
                wave = b.info.wave
                out.append(f"wave {wave}")
            out.append(i)
        return out

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        self._frame = None  # the lines are made again, from the run as it is now
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def frame(self) -> Frame:
        if self._frame is None:
            lanes = self.state.lanes()
            self._frame = Frame(self.clock(), lanes, self.entries(), max((tokens_of(b) for b in lanes), default=0),
                                min(24, max((len(b.id) for b in lanes), default=4)), self.current())
        return self._frame

    def follow(self) -> None:
        """As many rows as lines, the current branch's in view."""
        entries = self.frame().entries
        if self.virtual_size.height != len(entries):
            self.virtual_size = Size(self.size.width, len(entries))
        height = self.scrollable_content_region.height
        row = entries.index(self.current()) if self.current() in entries else 0
        top = round(self.scroll_offset.y)
        if height and not top <= row < top + height:
            self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)

    def render_line(self, y: int) -> Strip:
        frame = self.frame()
        index = y + round(self.scroll_offset.y)
        width = self.scrollable_content_region.width
        if not 0 <= index < len(frame.entries) or width <= 0:
            return Strip.blank(width, self.rich_style)
        content = self.line(frame.entries[index], frame, width)
        return Visual.to_strips(self, content, width, 1, self.visual_style, pad=True)[0]

    def line(self, entry: int | str, frame: Frame, width: int) -> Content:
        if isinstance(entry, str):
            return Content.styled(f"── {entry} ".ljust(width, "─")[:width], "$text-muted")
        i, b = entry, frame.lanes[entry]
        id_width = frame.id_width
        badge = fmt.badge(b, frame.now, self.state)
        tokens = tokens_of(b)
        shown = LOOK[badge.kind]
        right = f" {bar(tokens, frame.most)} {tokens:>{len(str(frame.most))}} tok"
        label = f"{shown.glyph} {fit_label(b.id, id_width)}"
        room = max(0, width - (id_width + 2) - 1 - len(right))
        said = cut(what_it_says(b), room) if room >= 8 else ""
        text = f"{label:<{id_width + 2}} {said:<{room}}{right}"[:width]
        style = "reverse" if i == frame.current else (f"${shown.colour}" if shown.colour else "")
        return Content.styled(text, style) if style else Content(text)

    def on_click(self, event: events.Click) -> None:
        entries = self.frame().entries
        row = event.y + round(self.scroll_offset.y)
        if 0 <= row < len(entries) and isinstance(entries[row], int):
            self.post_message(self.Picked(entries[row]))


BAR = " ▏▎▍▌▋▊▉█"
BAR_CELLS = 6


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def tokens_of(b: BranchState) -> int:
    return b.metrics.output_tokens if b.metrics else b.tokens_seen


def bar(value: int, most: int) -> str:
    """`value` against `most` in BAR_CELLS cells of eighths."""
    eighths = round(BAR_CELLS * 8 * value / most) if most else 0
    full, part = divmod(eighths, 8)
    return ("█" * full + (BAR[part] if part else "")).ljust(BAR_CELLS)


def what_it_says(b: BranchState) -> str:
    """One line of what the branch says: its cause when it failed, its answer when it has an answer form, else
    the first line of its text (control characters and markup never reach the terminal: Content is plain)."""
    if b.status.unsuccessful:
        return cause(b.error) if b.error else ""
    if "answer" in b.result:
        answer = b.result["answer"]
        return "unparsed" if answer is None else str(answer)
    text = b.final_text if b.final_text is not None else "".join(b.chunks[:8])
    return next((line.strip() for line in strip_controls(text).splitlines() if line.strip()), "")


def answers_summary(lanes: list[BranchState]) -> str:
    """A batch's answers counted, most common first ("billing 7 · bug 9 · 3 unparsed"); "" without answers."""
    answers = [b.result["answer"] for b in lanes if "answer" in b.result]
    if len(answers) < 2:
        return ""
    counts = Counter(str(a) for a in answers if a is not None)
    parts = [f"{answer} {n}" for answer, n in counts.most_common()]
    unparsed = sum(a is None for a in answers)
    return " · ".join(parts + ([f"{unparsed} unparsed"] if unparsed else []))
