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
from fanout.frontends.status import run_status

from .. import fmt

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

    def left_parts(self) -> list[Content]:
        """What runs: recipe, strategy, provider/model, session (the session gives way first)."""
        s = self.state.started
        if s is None:
            return [Content.assemble(("fanout", "bold"), "  starting…")]
        return [Content.styled("fanout", "bold"), Content.styled(s.recipe, "bold $accent"), Content(s.strategy),
                Content(f"{s.provider}/{s.model}"), Content.styled(s.session_id, "$text-muted")]

    def right_parts(self) -> list[Content]:
        """How it goes: the mode, what went wrong so far, the status and the time. Never cut."""
        if self.state.started is None:
            return []
        status = self.state.status
        parts = [Content.styled(f" {self.mode} ", "reverse")] if self.mode else []
        trouble = fmt.trouble(self.state)
        if trouble:
            parts.append(Content(" · ").join(Content.styled(text, f"bold {fmt.status_style(kind)}")
                                             for text, kind in trouble))
        chip = fmt.chip_style(run_status(status))
        parts.append(Content.assemble((f" {status} ", chip), " ", (fmt_seconds(self.clock()), "bold")))
        return parts

    def sides(self) -> tuple[Content, Content]:
        left = self.left_parts()
        head = Content.assemble(left[0], "  ", Content(" · ").join(left[1:])) if len(left) > 1 else left[0]
        return head, Content("  ").join(self.right_parts())

    def render(self) -> Content:
        left, right = self.sides()
        width = self.content_size.width
        room = width - right.cell_length - GAP
        if room <= 0:
            return right.truncate(width, ellipsis=True) if width > 0 else right
        if left.cell_length > room:
            left = left.truncate(room, ellipsis=True)
        return Content.assemble(left, " " * (width - left.cell_length - right.cell_length), right)
