"""The cheap view of a pane's text: as many lines as fit, as plain text.

While a branch streams it shows the last lines; once it has finished, the first ones (`head`). Each redraw wraps
only about one screenful of characters, so its cost does not grow with the answer, and `refresh()` repaints the
widget without a layout pass (`Static.update` would relayout the screen).
"""

from __future__ import annotations

from typing import Callable

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.widget import Widget

from fanout.core.text import strip_controls

# Given a number of characters, returns at least that many from the end (or, with `head`, the start) of the text.
Excerpt = Callable[[int], str]


class TailText(Widget):
    DEFAULT_CSS = """
    TailText { height: 1fr; }
    """

    def __init__(self, excerpt: Excerpt, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._excerpt = excerpt
        self.head = False
        self.placeholder = ""  # shown dim when there is no text yet

    def visible_lines(self, width: int, height: int) -> list[Content]:
        if width <= 0 or height <= 0:
            return []
        # Enough characters for `height` full rows plus a partial one; short lines only need fewer.
        text = strip_controls(self._excerpt(width * (height + 1)))
        if not text.strip():
            return []
        lines = Content(text.strip("\n") if self.head else text.rstrip("\n")).wrap(width)
        return lines[:height] if self.head else lines[-height:]

    # The text is drawn through the line API, from one wrap per repaint. Returning it from render() had Textual
    # wrap it a second time, and this view repaints ~200 times a second with twenty panes streaming.
    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        self._stale = True
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    _stale = True
    _strips: list[Strip] | None = None
    _blank = Strip([])

    def render(self) -> Content:
        """Only the placeholder: the text itself is drawn by `render_line`."""
        return Content.styled(self.placeholder, "$text-muted italic") if self.placeholder else Content("")

    def render_line(self, y: int) -> Strip:
        # Every row of a repaint is drawn from the first one's work: the lines, and the style (which Textual
        # computes by walking the ancestors, about as costly as the wrap).
        if self._stale:
            self._stale = False
            width, height = self.content_size
            lines = self.visible_lines(width, height)
            if lines:
                style = self.rich_style
                self._strips = [Strip([Segment(line.plain)], line.cell_length).apply_style(style)
                                .adjust_cell_length(width, style).simplify() for line in lines]
                self._blank = Strip.blank(width, style)
            else:
                self._strips = None
        if self._strips is None:
            return super().render_line(y)
        return self._strips[y] if 0 <= y < len(self._strips) else self._blank
