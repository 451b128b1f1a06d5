"""The line above the panes: recipe, strategy, provider/model, session, status, and whether this is a replay."""

from __future__ import annotations

from typing import Callable

from textual.content import Content
from textual.widget import Widget

from fanout.frontends.report import fmt_seconds
from fanout.frontends.state import RunState

STATUS_STYLE = {"ok": "$success", "partial": "$warning", "failed": "$error", "cancelled": "$warning"}


class RunHeader(Widget):
    DEFAULT_CSS = """
    RunHeader { height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, state: RunState, clock: Callable[[], float], *, mode: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.clock = clock
        self.mode = mode  # e.g. "replay 10×, read-only" or "compare 2/3"

    def render(self) -> Content:
        s = self.state.started
        if s is None:
            return Content.assemble(("fanout", "bold"), "  starting…")
        status = self.state.status
        parts: list = [
            ("fanout", "bold"), "  ", (s.recipe, "bold $accent"), " · ", s.strategy, " · ", f"{s.provider}/{s.model}",
            " · ", (s.session_id, "$text-muted"), "  ", (status, STATUS_STYLE.get(status, "$accent")),
            f" {fmt_seconds(self.clock())}",
        ]
        if self.mode:
            parts += ["  ", (f"[{self.mode}]", "reverse")]
        return Content.assemble(*parts)
