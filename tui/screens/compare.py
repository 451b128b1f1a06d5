"""The seeds' comparison: one recipe under each strategy, side by side, with the same figures as
`fanout.compare.table` (the headless comparison), which this screen also offers to copy."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from fanout.frontends.compare import Row, table, verdict
from fanout.frontends.report import fmt_cost
from fanout.frontends.state import RunState

COLUMNS = ("Strategy", "Status", "Latency", "Tokens", "Calls", "Cost", "Output", "Speed-up", "Tokens×")


def cells(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    """Each figure formatted exactly as `compare.table` prints it."""
    v = verdict(rows)
    out = []
    for r in rows:
        tokens = f"~{r.tokens}" if r.tokens_estimated else str(r.tokens)
        out.append((
            r.strategy,
            r.status,
            f"{r.latency * 1000:.0f}ms",
            tokens,
            str(r.calls),
            fmt_cost(r.cost),
            str(r.output_length),
            f"{v.speedup[r.strategy]:.2f}×",
            f"{v.token_multiplier[r.strategy]:.2f}×",
        ))
    return out


def summary(rows: Sequence[Row]) -> str:
    """The verdict lines of `compare.table`, verbatim."""
    return table(rows).split("\n\n", 1)[1]


class CompareScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="compare.back"),
        Binding("c", "copy", "Copy table", id="compare.copy"),
    ]

    def __init__(self, states: Sequence[RunState]) -> None:
        super().__init__()
        self.rows = [Row.of(s) for s in states]
        first = states[0].started if states else None
        self.recipe = first.recipe if first else "?"

    def compose(self) -> ComposeResult:
        yield Label(Content(f"Compare: {self.recipe} on the same inputs under each strategy"), id="compare-title")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield Static(Content(summary(self.rows)), id="compare-verdict")
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns(*COLUMNS)
        fastest, cheapest = verdict(self.rows).fastest, verdict(self.rows).cheapest
        for values in cells(self.rows):
            # Text cells (DataTable parses a str as markup); the fastest latency and the cheapest cost stand out.
            styled = [
                Text(value, style="bold green" if (i == 2 and values[0] == fastest) or (i == 5 and values[0] == cheapest)
                     else "", justify="right" if i >= 2 else "left")
                for i, value in enumerate(values)
            ]
            t.add_row(*styled, key=values[0])
        t.focus()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(table(self.rows))
        self.notify("Copied the comparison table.", title="Clipboard")
