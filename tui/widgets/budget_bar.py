"""The run's spending against its budget, as a bar under the header: what the finished calls cost so far of the
budget, and, once the budget stopped the run, that it did and how to go on."""

from __future__ import annotations

from typing import Callable

from textual.content import Content
from textual.widget import Widget

from fanout.frontends.report import fmt_cost
from fanout.frontends.state import RunState

from ..fmt import totals

WIDTH = 24  # cells of the bar itself


def bar(share: float, width: int = WIDTH) -> str:
    filled = max(0, min(width, round(share * width)))
    return "█" * filled + "░" * (width - filled)


class BudgetBar(Widget):
    DEFAULT_CSS = """
    BudgetBar { height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, state: RunState, clock: Callable[[], float], limit: float, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state, self.clock, self.limit = state, clock, limit

    def render(self) -> Content:
        spent = totals(self.state, self.clock()).cost
        share = (spent or 0.0) / self.limit
        figures = f"{fmt_cost(spent)} of {fmt_cost(self.limit)}"
        if self.state.status == "budget":
            return Content.assemble(("budget reached", "bold reverse $warning"), " ", figures,
                                    " · the rest did not run: resume the session from the history (h, then R)")
        return Content.assemble(("budget ", "bold"), (bar(share), "$warning" if share > 0.8 else "$success"), " ",
                                figures)
