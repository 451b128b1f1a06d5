"""Past sessions, newest first; opening one replays it on the run screen, read-only and offline."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable, Label

from fanout.frontends.sessions_table import COLUMNS, row
from fanout.stores.sessions import Summary, list_sessions
from ..messages import OpenReplay, ResumeSession
from ..widgets.key_bar import KeyBar

class HistoryScreen(Screen):
    BINDINGS = [
        Binding("enter", "open(1)", "Replay", id="history.replay", tooltip="Replay at the original pace",
                priority=True),
        Binding("f", "open(10)", "Replay 10×", id="history.replay_fast"),
        Binding("i", "open(0)", "Show at once", id="history.replay_instant"),
        Binding("R", "resume", "Resume", id="history.resume",
                tooltip="Go on with an interrupted, cancelled or partly failed session: only what did not finish runs"),
        Binding("escape", "app.pop_screen", "Back", id="history.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.summaries: list[Summary] = []

    def compose(self) -> ComposeResult:
        yield Label("History: past runs, newest first", id="history-title")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Label("No sessions yet: run something first.", id="history-empty")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self.summaries = list_sessions()
        for s in self.summaries:
            # Text cells: DataTable parses a str as markup, and a recipe name or a model is data.
            table.add_row(*(Text(cell) for cell in row(s)), key=s.id)
        self.query_one("#history-empty").display = not self.summaries
        table.display = bool(self.summaries)
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open(1)  # a click on a row

    def action_resume(self) -> None:
        if self.summaries:
            session_id = self.summaries[self.query_one(DataTable).cursor_row].id
            self.post_message(ResumeSession(session_id))

    def action_open(self, speed: float) -> None:
        if not self.summaries:
            return
        table = self.query_one(DataTable)
        session_id = self.summaries[table.cursor_row].id
        self.post_message(OpenReplay(session_id, float(speed)))
