"""The cheap view of a pane's text: as many lines as fit, as plain text.

While a branch streams it shows the last lines; once it has finished, the first ones (`head`). Each redraw wraps
only about one screenful of characters, so its cost does not grow with the answer, and `refresh()` repaints the
widget without a layout pass (`Static.update` would relayout the screen).
"""

from __future__ import annotations

from typing import Callable

from textual.content import Content
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

    def render(self) -> Content:
        width, height = self.content_size
        lines = self.visible_lines(width, height)
        if not lines:
            return Content.styled(self.placeholder, "$text-muted italic") if self.placeholder else Content("")
        return Content("\n").join(lines)
