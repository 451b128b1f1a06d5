"""The `?` sheet: every key of the screen underneath, what it does, and whether it works right now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from ..widgets.key_bar import HELP


def key_rows(screen: Screen) -> list[tuple[str, str, str, bool]]:
    """(keys, what, more, works now) for every binding the screen answers to, one row per action."""
    app = screen.app
    rows: dict[str, tuple[list[str], str, str, bool]] = {}
    for _key, active in screen.active_bindings.items():
        b = active.binding
        if b.system or b.action == HELP or not (b.description or b.tooltip):
            continue
        keys, *_ = rows.setdefault(b.action, ([], b.description or b.action, b.tooltip, active.enabled))
        display = app.get_key_display(b)
        if display not in keys:
            keys.append(display)
    return [(" ".join(keys), what, more, enabled) for keys, what, more, enabled in rows.values()]


class HelpSheet(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpSheet { align: center middle; }
    #help { width: 100; max-width: 95%; height: auto; max-height: 90%; border: round $accent; background: $surface;
            padding: 0 1; }
    #help-title { text-style: bold; margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("escape,question_mark,f1,q", "dismiss(None)", "Close", id="help.close"),
    ]

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.rows = key_rows(screen)
        self.title_text = f"Keys: {getattr(screen, 'TITLE_FOR_HELP', '') or type(screen).__name__.removesuffix('Screen').lower()}"

    def compose(self) -> ComposeResult:
        width = max((len(keys) for keys, *_ in self.rows), default=1)
        lines = []
        for keys, what, more, enabled in self.rows:
            style = "" if enabled else "$text-disabled"
            lines.append(Content.assemble((f"{keys:>{width}}", f"bold $accent {style}".strip()), "  ", (what, style),
                                          (f" — {more}" if more else "", "$text-muted")))
            if not enabled:
                lines[-1] = Content.assemble(lines[-1], (" (not now)", "$text-disabled"))
        with VerticalScroll(id="help"):
            yield Label(Content(self.title_text), id="help-title")
            yield Static(Content("\n").join(lines), id="help-keys")
            yield Label(Content.styled("esc or ? closes this sheet", "$text-muted"))
