"""Choose a strategy to run the same inputs again under."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from fanout.strategies.recipe import STRATEGIES

WHAT = {
    "sequential": "one branch after another, each seeing the earlier ones",
    "parallel": "every branch at once, none seeing another",
    "hybrid": "the recipe's own dependencies, each step as soon as its inputs are ready",
}


class StrategyPicker(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="picker.cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label("Run again as", id="picker-title")
            yield OptionList(
                *(Option(f"{s}{'  (current)' if s == self.current else ''} — {WHAT[s]}", id=s) for s in STRATEGIES),
                id="picker-options",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
