"""The line above the panes: recipe, strategy, provider/model and session on the left; whether this is a replay,
the run's status and its time on the right.

The right-hand side is never cut: on a narrow terminal the left side gives way (the session id first) and ends
in an ellipsis. The status is a chip of its own (its colour as background, a space either side) and the time
ends at the right edge, so neither runs into the other.
"""

from __future__ import annotations

from typing import Callable

from textual.content import Content
from textual.widget import Widget

from fanout.frontends.report import fmt_seconds
from fanout.frontends.state import RunState

STATUS_STYLE = {"ok": "$success", "partial": "$warning", "failed": "$error", "cancelled": "$warning"}
GAP = 2  # cells between the two sides, at least


class RunHeader(Widget):
    DEFAULT_CSS = """
    RunHeader { height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, state: RunState, clock: Callable[[], float], *, mode: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.clock = clock
        self.mode = mode  # e.g. "replay 10×, read-only" or "compare 2/3"

    def sides(self) -> tuple[Content, Content]:
        s = self.state.started
        if s is None:
            return Content.assemble(("fanout", "bold"), "  starting…"), Content("")
        status = self.state.status
        left = Content.assemble(
            ("fanout", "bold"), "  ", (s.recipe, "bold $accent"), " · ", s.strategy, " · ",
            f"{s.provider}/{s.model}", " · ", (s.session_id, "$text-muted"),
        )
        right = Content.assemble(
            *([(f" {self.mode} ", "reverse"), "  "] if self.mode else []),
            (f" {status} ", f"bold reverse {STATUS_STYLE.get(status, '$accent')}"), " ",
            (fmt_seconds(self.clock()), "bold"),
        )
        return left, right

    def render(self) -> Content:
        left, right = self.sides()
        width = self.content_size.width
        room = width - right.cell_length - GAP
        if room <= 0:
            return right.truncate(width, ellipsis=True) if width > 0 else right
        if left.cell_length > room:
            left = left.truncate(room, ellipsis=True)
        return Content.assemble(left, " " * (width - left.cell_length - right.cell_length), right)
