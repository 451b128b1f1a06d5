"""The run's totals beside the timeline: wall time, sum of calls, concurrency, tokens, cost, throttles."""

from __future__ import annotations

from typing import Callable

from textual.content import Content
from textual.widget import Widget

from fanout.frontends.state import RunState

from .. import fmt


class RunTotals(Widget):
    DEFAULT_CSS = """
    RunTotals { height: auto; }
    """

    def __init__(self, state: RunState, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.clock = clock

    def lines(self) -> list[tuple[str, str]]:
        return fmt.totals_lines(fmt.totals(self.state, self.clock()))

    def render(self) -> Content:
        t = fmt.totals(self.state, self.clock())
        rows = fmt.totals_lines(t)
        width = max(len(k) for k, _ in rows)
        parts: list = [("totals" if t.final else "so far", "bold")]
        for key, value in rows:
            parts += ["\n", (f"{key:<{width}} ", "$text-muted"), (value, "bold") if key in ("wall", "concurrency") else value]
        return Content.assemble(*parts)
