"""Asked before a run whose estimate may cost more than the config's `[cost] confirm_above`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmSpend(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmSpend { align: center middle; }
    ConfirmSpend > Vertical { width: 70; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    ConfirmSpend Horizontal { height: auto; margin-top: 1; }
    """
    BINDINGS = [Binding("y", "answer(True)", "Run it"), Binding("n,escape", "answer(False)", "Don't")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.question), id="confirm-question")
            with Horizontal():
                yield Button("Run it (y)", id="yes", variant="warning")
                yield Button("Don't (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
