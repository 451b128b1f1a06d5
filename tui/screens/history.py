"""Past sessions, newest first; opening one replays it on the run screen, read-only and offline. A comparison's
runs are listed under its own row, which opens its compare screen again from the sessions (no call is made)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static

from fanout.frontends.comparisons import Group, grouped, verdict
from fanout.frontends.sessions_table import COLUMNS, rows
from fanout.stores.sessions import list_sessions
from ..messages import OpenComparison, OpenReplay, ResumeSession
from ..widgets.key_bar import KeyBar

class HistoryScreen(Screen):
    BINDINGS = [
        Binding("enter", "open(1)", "Open", id="history.replay",
                tooltip="Replay at the original pace; a comparison's row: its verdict", priority=True),
        Binding("f", "open(10)", "Replay 10×", id="history.replay_fast"),
        Binding("i", "open(0)", "Show at once", id="history.replay_instant"),
        Binding("R", "resume", "Resume", id="history.resume",
                tooltip="Go on with an interrupted, cancelled or partly failed session: only what did not finish runs"),
        Binding("escape", "app.pop_screen", "Back", id="history.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []  # per row of the table: a session's id, or a comparison's
        self.groups: dict[str, Group] = {}  # the comparisons, and each of their runs, by id
        self.verdicts: dict[str, str] = {}  # by comparison, read once

    def compose(self) -> ComposeResult:
        yield Label("History: past runs, newest first", id="history-title")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="history-verdict")
        yield Label("No sessions yet: run something first.", id="history-empty")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self.query_one("#history-verdict").display = False
        entries = grouped(list_sessions())
        for g in (e for e in entries if isinstance(e, Group)):
            self.groups.update({g.id: g, **{s.id: g for s in g.runs}})
        for cells, key in rows(entries):
            # Text cells: DataTable parses a str as markup, and a recipe name or a model is data.
            table.add_row(*(Text(cell) for cell in cells), key=key)
            self.keys.append(key)
        self.query_one("#history-empty").display = not self.keys
        table.display = bool(self.keys)
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Under the table, the verdict of the comparison the cursor is on (its row or one of its runs)."""
        group = self.groups.get(event.row_key.value or "")
        line = self.query_one("#history-verdict", Static)
        line.display = group is not None
        if group is not None:
            if group.id not in self.verdicts:
                self.verdicts[group.id] = verdict(group)
            line.update(Text(f"{group.id} · {self.verdicts[group.id]}"))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open(1)  # a click on a row

    def _selected(self) -> tuple[str, bool]:
        """The id on the cursor's row, and whether it is a comparison's own row."""
        key = self.keys[self.query_one(DataTable).cursor_row] if self.keys else ""
        return key, key in self.groups and self.groups[key].id == key

    def action_resume(self) -> None:
        key, comparison = self._selected()
        if comparison:
            self.notify("A comparison is not resumed: resume one of its runs.", severity="warning")
        elif key:
            self.post_message(ResumeSession(key))

    def action_open(self, speed: float) -> None:
        key, comparison = self._selected()
        if comparison:
            self.post_message(OpenComparison(key))
        elif key:
            self.post_message(OpenReplay(key, float(speed)))
