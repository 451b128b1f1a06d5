"""The parallel-or-sequential comparison as a picture: one recipe under each strategy, the verdict in one sentence,
their timelines stacked on one time axis, bars for latency, tokens, cost and redundancy, then the table with the
quality columns and the verdict, and the overlap matrix of the strategy under the cursor. The same figures as
`fanout bench` (`frontends.compare`), which this screen copies (c) and exports with everything it draws (e)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Awaitable, Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static

from fanout.frontends.compare import (SPEEDUP, Row, figures, fmt_judged, headline, overlap_lines, shared_span, table,
                                     verdict, verdict_lines)
from fanout.frontends.judge import judge_text
from fanout.frontends.report import fmt_seconds
from fanout.frontends.state import RunState

from .. import exporting
from ..widgets.compare_bars import CompareBars
from ..fmt import strategy_style
from ..widgets.timeline import TimelineAxis, TimelineLanes
from ..widgets.key_bar import KeyBar

COLUMNS = ("Strategy", "Status", "Latency", "Tokens", "Calls", "Cost", "Output", SPEEDUP, "Tokens×",
           "Findings", "Distinct", "Redundancy", "Contra.", "Judged")
LATENCY, COST, REDUNDANCY, JUDGED = 2, 5, 11, 13
# strategy -> final output in, the judge's run (`wiring.judge.JudgeRun.as_dict()`) out
Judge = Callable[[dict[str, str]], Awaitable[dict[str, Any]]]


def cells(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    """Each figure as `compare.table` prints it (`compare.figures`), with the status and the judge's score."""
    v = verdict(rows)
    return [(r.strategy, r.status, *figures(r, v), fmt_judged(r.judged)) for r in rows]


def summary(rows: Sequence[Row]) -> str:
    """The verdict lines of `compare.table` under its headline, which heads the screen."""
    return "\n".join(verdict_lines(rows))


class CompareScreen(Screen):
    DEFAULT_CSS = """
    CompareScreen .compare-heading { text-style: bold; margin-top: 1; }
    CompareScreen #compare-headline { text-style: bold; padding: 0 1; }
    CompareScreen #compare-table { height: auto; max-height: 8; }
    CompareScreen #compare-overlap { height: auto; }
    CompareScreen #compare-judge { height: auto; display: none; margin-top: 1; }
    """
    # The body, not the table, has the keys at first: the screen opens at its top and scrolls with them; tab
    # moves to the table, whose cursor picks the overlap shown, and back.
    AUTO_FOCUS = "#compare-body"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="compare.back"),
        Binding("tab", "toggle_table", "Table", id="compare.table", tooltip="The table's cursor picks the overlap shown"),
        Binding("c", "copy", "Copy table", id="compare.copy"),
        Binding("e", "export", "Export .md", id="compare.export"),
        Binding("j", "judge", "Judge", id="compare.judge", tooltip="A blind judge compares the outputs, pair by pair"),
    ]

    def __init__(self, states: Sequence[RunState], judge: Judge | None = None) -> None:
        super().__init__()
        self.judge = judge
        self.judged: dict[str, Any] | None = None
        self.judging = False
        self.states = list(states)
        self.rows = [Row.of(s) for s in states]
        first = states[0].started if states else None
        self.recipe = first.recipe if first else "?"

    def compose(self) -> ComposeResult:
        span = shared_span(self.states)
        with VerticalScroll(id="compare-body"):
            yield Label(Content(f"Compare: {self.recipe} on the same inputs under each strategy"), id="compare-title")
            yield Static(Content(headline(self.rows)) if self.rows else "", id="compare-headline")
            yield Label("Timelines, one time axis", classes="compare-heading")
            timelines = []
            for state, row in zip(self.states, self.rows):
                style = strategy_style(row.strategy)
                yield Label(Content.styled(f"{row.strategy} · {fmt_seconds(row.latency)}", f"bold {style}"))
                lanes = TimelineLanes(state, lambda: span, stream_style=style, id=f"compare-timeline-{row.strategy}")
                lanes.styles.height = len(state.lanes()) + (state.aggregate.started is not None)
                timelines.append(lanes)
                yield lanes
            # one legend for the three: the strategies' colours, and only the marks their lanes use
            yield TimelineAxis(lambda: span, lanes=lambda: [lane for t in timelines for lane in t.lanes()],
                               streams=[(strategy_style(r.strategy), r.strategy) for r in self.rows])
            yield Label("Per strategy", classes="compare-heading")
            yield CompareBars(self.rows, id="compare-bars")
            yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            yield Static(Content(summary(self.rows)), id="compare-verdict")
            yield Static("", id="compare-judge")
            yield Label("", id="compare-overlap-title", classes="compare-heading")
            yield Static("", id="compare-overlap")
        yield KeyBar()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns(*COLUMNS)
        self.fill_table()
        if self.rows:
            self.show_overlap(self.rows[0])

    def action_toggle_table(self) -> None:
        table = self.query_one(DataTable)
        (self.query_one("#compare-body") if table.has_focus else table).focus()

    def fill_table(self) -> None:
        t = self.query_one(DataTable)
        t.clear()
        v = verdict(self.rows)
        best = {LATENCY: v.fastest, COST: v.cheapest, REDUNDANCY: v.least_redundant, JUDGED: v.best_judged}
        for values in cells(self.rows):
            # Text cells (DataTable parses a str as markup); the fastest, cheapest and least redundant stand out.
            styled = [
                Text(value, style="bold green" if best.get(i) == values[0] else "", justify="right" if i >= 2 else "left")
                for i, value in enumerate(values)
            ]
            t.add_row(*styled, key=values[0])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = next((r for r in self.rows if r.strategy == event.row_key.value), None)
        if row is not None:
            self.show_overlap(row)

    def show_overlap(self, row: Row) -> None:
        """The overlap matrix of the strategy under the cursor; where it is wider than the screen, its pairs."""
        shows, lines = overlap_lines(row, width=self.app.size.width)
        self.query_one("#compare-overlap-title", Label).update(f"Overlap under {row.strategy}: {shows}")
        self.query_one("#compare-overlap", Static).update(
            Content("\n".join(lines) if lines else "fewer than two branches with findings"))

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(table(self.rows))
        self.notify("Copied the comparison table.", title="Clipboard")

    def action_judge(self) -> None:
        if self.judge is None:
            self.notify("No judge for a comparison opened here; `fanout bench --judge` judges from the command line.",
                        severity="warning")
        elif not self.judging:
            self.judging = True
            self.notify("Judging: every pair of outputs, in both orders…", title="Judge")
            self.run_worker(self._judge(), exclusive=True, group="judge")

    async def _judge(self) -> None:
        try:
            judged = await self.judge({r.strategy: r.output for r in self.rows})  # type: ignore[misc]
        except Exception as err:  # a judge that cannot run says why; the comparison stays as it was
            self.notify(str(err), title="Judge failed", severity="error", markup=False)
            return
        finally:
            self.judging = False
        self.show_judgement(judged)

    def show_judgement(self, judged: dict[str, Any]) -> None:
        """The scores into the table and the verdict, the judge's own figures (and cost) below them."""
        self.judged = judged
        self.rows = [replace(r, judged=judged["scores"].get(r.strategy)) for r in self.rows]
        self.fill_table()
        self.query_one("#compare-verdict", Static).update(Content(summary(self.rows)))
        self.query_one("#compare-headline", Static).update(Content(headline(self.rows)))
        shown = self.query_one("#compare-judge", Static)
        shown.update(Content(judge_text(judged)))
        shown.display = True

    def action_export(self) -> None:
        try:
            path = exporting.export_comparison(self.states, self.rows, judge_text(self.judged) if self.judged else "")
        except OSError as err:
            self.notify(f"Export failed: {err}", severity="error", markup=False)
            return
        self.notify(f"Exported to {path}", title="Export", markup=False)
