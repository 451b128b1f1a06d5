"""A rendered Markdown document as one widget: its height is its number of lines, and a repaint draws only the
lines in view (Textual's line API), so its cost does not grow with the answer and no layout walks its blocks."""

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
        self.shows = 0  # documents handed to this view, for tests and debugging

    def show(self, source: str, lines: list[Strip], width: int, look: str, complete: bool) -> None:
        self.shows += 1
        grew = len(lines) != len(self.lines)
        self.source, self.lines, self.width_rendered, self.look, self.complete = source, lines, width, look, complete
        if grew:
            self.styles.height = max(1, len(lines))  # a layout only when the height changes
        self.refresh()

    def clear(self) -> None:
        self.show("", [], 0, "", False)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.rich_style
        if 0 <= y < len(self.lines):
            return self.lines[y].apply_style(style).adjust_cell_length(width, style)
        return Strip.blank(width, style)
