"""A rendered Markdown document as one widget: its height is its number of lines, and a repaint draws only the
lines in view (Textual's line API), so its cost does not grow with the answer and no layout walks its blocks.

While a followed document streams, its height grows in steps rather than with every line (`pad`): a new height
lays out the whole screen, and at one step per render that was a quarter of the event loop with twenty panes
streaming. The lines are drawn at the bottom, below `pad` blank rows, so the anchored scroll area keeps showing
the newest ones without a layout until the step is used up."""

from __future__ import annotations

from textual.strip import Strip
from textual.widget import Widget


class DocView(Widget):
    DEFAULT_CSS = """
    DocView { height: 1; width: 1fr; }
    """

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.source = ""  # the model text these lines render (what tests and the benchmark compare)
        self.lines: list[Strip] = []
        self.width_rendered = 0  # the width the lines were rendered for
        self.look = ""  # and the look (`md_render.Look.name`)
        self.complete = False  # every block group of `source` is in `lines`
        self.rows = 1  # the height set on the widget
        self.pad = 0  # blank rows above the first line
        self.shows = 0  # documents handed to this view, for tests and debugging

    def show(self, source: str, lines: list[Strip], width: int, look: str, complete: bool,
             rows: int | None = None) -> None:
        """`rows`: the height to take, at least the lines' (the lines then end at the bottom); None: exactly theirs."""
        self.shows += 1
        rows = max(1, len(lines), rows or 0)
        self.source, self.lines, self.width_rendered, self.look, self.complete = source, lines, width, look, complete
        self.pad = rows - len(lines) if lines else 0
        if rows != self.rows:
            self.rows = rows
            self.styles.height = rows  # a layout only when the height changes
        self.refresh()

    def clear(self) -> None:
        self.show("", [], 0, "", False)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.rich_style
        index = y - self.pad
        if 0 <= index < len(self.lines):
            return self.lines[index].apply_style(style).adjust_cell_length(width, style)
        return Strip.blank(width, style)
