"""The compact list used when there are too many branches for a grid: one line per branch, the current one
highlighted; a click or n/p chooses which branch the big pane shows.

A line carries what a glance needs, btop-style: the status glyph, the id, what the branch says (its answer where
it has an answer form, else its first line; its cause when it failed), a small bar of its tokens against the
most any branch has, and the count. Above the lines of a batch (branches with an answer form), one line sums the
answers: "billing 7 · bug 9 · 3 unparsed"."""

from __future__ import annotations

from collections import Counter
from typing import Callable

from textual import events
from textual.content import Content
from textual.message import Message
from textual.widget import Widget

from fanout.core.text import strip_controls
from fanout.frontends.state import BranchState, RunState
from fanout.frontends.status import LOOK

from .. import fmt
from ..fmt import cause, fit_label


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
        """What each line shows: a lane (its index in the run's lanes) or a heading: a batch's summary of its
        answers first, then, in a run of several waves, the heading of the wave whose lanes follow."""
        several = len(self.state.waves) > 1
        summary = answers_summary(self.state.lanes())
        out: list[int | str] = [summary] if summary else []
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
        most = max((tokens_of(b) for b in lanes), default=0)
        digits = len(str(most))
        id_width = min(24, max((len(b.id) for b in lanes), default=4))
        current = self.current()
        for entry in self.entries():
            if isinstance(entry, str):
                lines.append(Content.styled(f"── {entry} ".ljust(width, "─")[:width], "$text-muted"))
                continue
            i, b = entry, lanes[entry]
            badge = fmt.badge(b, now, self.state)
            tokens = tokens_of(b)
            shown = LOOK[badge.kind]
            right = f" {bar(tokens, most)} {tokens:>{digits}} tok"
            label = f"{shown.glyph} {fit_label(b.id, id_width)}"
            room = max(0, width - (id_width + 2) - 1 - len(right))
            said = cut(what_it_says(b), room) if room >= 8 else ""
            text = f"{label:<{id_width + 2}} {said:<{room}}{right}"[:width]
            style = "reverse" if i == current else (f"${shown.colour}" if shown.colour else "")
            lines.append(Content.styled(text, style) if style else Content(text))
        return Content("\n").join(lines)

    def on_click(self, event: events.Click) -> None:
        entries = self.entries()
        if 0 <= event.y < len(entries) and isinstance(entries[event.y], int):
            self.post_message(self.Picked(entries[event.y]))


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
