"""A bordered pane showing one stream of model text: a branch's answer or the aggregator's synthesis.

Two views of the same text:
- `TailText`: plain text, the last lines while streaming and the first lines once finished. Its cost does not
  grow with the answer, and it repaints without a layout pass. Twenty panes streaming at once use it.
- `DocView` in a following scroll area: the text rendered as Markdown (`md_render`), one widget however long
  the answer. Shown while someone reads a streaming pane (it has focus, is zoomed, or is the aggregator), and in
  every finished pane once its document is rendered.

Rendering is never done here: the run screen's `Pacer` renders block groups in a worker thread, ahead of need
(every finished pane, the one being read first) and into a cache, and a flush only assembles a document from
cached groups. A streaming document re-renders only its last group (the others never change); a finished one is
shown from its first screenful, before its last group is there. The final document is built from the final text
(nothing buffered is lost, as oterm once lost its last tokens, and a code fence cut mid-stream renders whole).
The pane never redraws itself on an event: the pacer calls `flush()`, a few panes per tick.
"""

from __future__ import annotations

import time
from typing import Any

from textual.containers import Vertical
from textual.content import Content
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from fanout.core.text import strip_controls

from ..compat import style_now
from ..fmt import chip_style
from ..doc_cache import DocCache
from fanout.frontends.status import Status, look
from ..md_render import Look, split_blocks
from .doc_view import DocView
from .pane_scroll import PaneScroll
from .tail_text import TailText

METRICS_PERIOD = 0.5  # seconds between redraws of a streaming pane's metrics line
LIVE_STEP = 48  # a followed streaming document grows by at least this many rows at a time (doc_view)
TAIL, LIVE, FINAL = "tail", "live", "final"  # what the pane shows: plain text, streaming Markdown, final Markdown
BLANK = Strip([])


def tail_of(source: Any, chars: int) -> str:
    """At least the last `chars` characters of a BranchState's or AggregateState's text, without joining it all."""
    if source.final_text is not None:
        return source.final_text[-chars:]
    picked: list[str] = []
    size = 0
    for chunk in reversed(source.chunks):
        picked.append(chunk)
        size += len(chunk)
        if size >= chars:
            break
    return "".join(reversed(picked))


def head_of(source: Any, chars: int) -> str:
    if source.final_text is not None:
        return source.final_text[:chars]
    picked: list[str] = []
    size = 0
    for chunk in source.chunks:
        picked.append(chunk)
        size += len(chunk)
        if size >= chars:
            break
    return "".join(picked)


class StreamPane(Vertical, can_focus=True):
    """Subclasses say where the text is (`source`), whether it has ended, and what the border says."""

    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.tail = TailText(self._excerpt, classes="pane-tail")
        self.scroll = PaneScroll(classes="pane-scroll", on_release=self._wake)
        self.markdown = DocView(classes="pane-markdown")  # the rendered document; `.source` is its text
        self.error_line = Static("", classes="pane-error", markup=False)
        self.dirty = True
        self.last_flush = 0.0
        self.view = TAIL
        self.live_asked = 0.0  # when the pacer last rendered this streaming document's last group
        self._generation = 0  # bumped when the text starts over (a retry after tokens)
        self._restart = False
        self._groups_key: tuple[int, int, bool] | None = None
        self._groups: list[str] = []
        self._text = ""
        self._latest: tuple[int, tuple[Strip, ...]] | None = None  # the last group's newest rendering, while live
        self._header: tuple[Any, ...] = ()
        self._metrics = ""
        self._metrics_at = 0.0
        self._kind = Status.WAITING
        self._scrollbars_styled = False

    # --- what subclasses provide -----------------------------------------------------------------------------

    @property
    def source(self) -> Any:
        """An object with `chunks` and `final_text` (BranchState, AggregateState)."""
        raise NotImplementedError

    @property
    def ended(self) -> bool:
        raise NotImplementedError

    def header(self, now: float) -> tuple[str, Status, str, str, str]:
        """(title, how the badge looks, badge label, metrics line, error line)."""
        raise NotImplementedError

    def placeholder(self, now: float) -> str:
        return ""

    @property
    def prefers_markdown(self) -> bool:
        """Stream as Markdown even unfocused (the aggregator: it streams alone, after the branches)."""
        return False

    # --- layout -------------------------------------------------------------------------------------------------

    def compose(self):
        yield self.error_line
        yield self.tail
        with self.scroll:
            yield self.markdown

    def on_mount(self) -> None:
        self.error_line.display = False
        self.scroll.display = False
        self.app.theme_changed_signal.subscribe(self, self._paint_border)
        self._paint_border()

    # The focus is passed in: this handler runs before Textual's own sets `has_focus` (the most derived class's
    # handler first), so reading it here drew the old state, and a focused pane kept its thin border.
    def on_focus(self) -> None:
        self._wake()
        self._paint_border(focused=True)

    def on_blur(self) -> None:
        self._wake()
        self._paint_border(focused=False)

    def on_resize(self) -> None:
        # A new width needs the document at that width. When those lines are already cached (the layout went
        # back to an earlier width) no rendering finishes to wake the pane, so the resize itself must.
        self._wake()

    def _paint_border(self, *_: object, focused: bool | None = None) -> None:
        """The border's colour is the status, heavy when focused. Inline styles, not CSS classes: a class change
        restyles every descendant, for each change of status."""
        if not self.is_mounted:
            return
        color = self.app.theme_variables.get(look(self._kind).colour or "panel-lighten-2", "gray")
        heavy = self.has_focus if focused is None else focused
        self.styles.border = ("heavy" if heavy else "round", color)

    def _wake(self) -> None:
        """Redraw on the next tick, not after the pacer's period."""
        self.dirty = True
        self.last_flush = 0.0

    # --- what the pacer reads -----------------------------------------------------------------------------------

    @property
    def reading(self) -> bool:
        """Someone is reading this pane: it deserves Markdown while it streams."""
        return self.has_focus or self.is_maximized or self.prefers_markdown

    @property
    def settled(self) -> bool:
        """The whole final answer is on show as Markdown."""
        return self.view == FINAL and self.markdown.complete

    @property
    def on_screen(self) -> bool:
        return self.is_mounted and self.display and self.region.area > 0

    @property
    def text(self) -> str:
        return self.source.final_text if self.source.final_text is not None else "".join(self.source.chunks)

    @property
    def shown_text(self) -> str:
        """The model text this pane displays: the Markdown source, or the text the plain view is cut from."""
        return self.markdown.source if self.view != TAIL else strip_controls(self.text)

    def content_rows(self) -> int | None:
        """The rows this pane needs to show all it has, its border included; None while it may still grow."""
        if not self.ended:
            return None
        width = max(1, self.doc_width() or self.content_region.width)
        rows = 2 + self.extra_rows(width)
        if self.view == FINAL and self.markdown.complete:
            return rows + len(self.markdown.lines)
        text = strip_controls(self.text).strip("\n")
        if len(text) > width * 200:  # more than any screen holds: no need to count
            return rows + 200
        return rows + (len(Content(text).wrap(width)) if text.strip() else (0 if self.error_line.display else 1))

    def extra_rows(self, width: int) -> int:
        """Rows besides the text: the error line (and what a subclass adds: searches, sources, the aggregate's
        flag and tally)."""
        error = str(self._header[3]) if self._header else ""
        return len(Content(strip_controls(error)).wrap(width)) if error and self.error_line.display else 0

    def doc_width(self) -> int:
        """The width a document is rendered at: the pane's content less the scroll bar's gutter (kept stable, so
        a document does not re-render when it starts to overflow). 0 before the pane is laid out."""
        width = self.content_region.width - self.scroll.styles.scrollbar_size_vertical
        return max(0, width) if self.is_mounted else 0

    @property
    def wants_doc(self) -> bool:
        """Rendered as Markdown: once it has ended with some text, or while someone reads it streaming."""
        if self.ended:
            return bool(self.source.final_text if self.source.final_text is not None else self.source.chunks)
        return self.reading and bool(self.source.chunks)

    def doc_groups(self) -> list[str]:
        """The text to render, in block groups (`md_render.split_blocks`); recomputed only when the text grew."""
        src = self.source
        key = (self._generation, len(src.chunks), src.final_text is not None)
        if key != self._groups_key:
            self._groups_key = key
            self._text = strip_controls(self.text)
            self._groups = split_blocks(self._text)
        return self._groups

    def restart(self) -> None:
        self._restart = True
        self.dirty = True

    # --- what the pacer calls -------------------------------------------------------------------------------------

    async def flush(self, now: float, *, cache: DocCache | None = None, look: Look | None = None,
                    force: bool = False) -> None:
        """Cheap: the header, then the plain view repaints or a document is assembled from rendered groups."""
        self.dirty = False
        self.last_flush = now
        self._draw_header(force)
        if self._restart:
            self._restart = False
            self._generation += 1
            self._latest = None
            self.markdown.clear()
            self.view = TAIL
        if self.wants_doc and cache is not None and look is not None and self._show_doc(cache, look):
            return
        if self.view == FINAL and self.ended:
            return  # a finished document shown at an older width or look stays until the new one is there
        self.view = TAIL
        self._show(False)
        self.tail.head = self.ended
        self.tail.refresh()

    def rendered(self, index: int, lines: tuple[Strip, ...]) -> None:
        """The pacer rendered group `index` of this pane's text: keep it for the live view, redraw soon."""
        if not self.ended:
            self._latest = (index, lines)
        self._wake()

    def _show_doc(self, cache: DocCache, look: Look) -> bool:
        """Show the document as far as it is rendered; False when there is nothing worth showing yet."""
        width = self.doc_width()
        if width <= 0:
            return False
        groups = self.doc_groups()
        doc = self.markdown
        if self.ended and self.view == FINAL and doc.complete and doc.source == self._text and \
                doc.width_rendered == width and doc.look == look.name:
            return True  # already on show: not even looked up again
        lines: list[Strip] = []
        complete = True
        for index, group in enumerate(groups):
            part = cache.get((group, width, look.name))
            if part is None and index == len(groups) - 1 and not self.ended and self._latest is not None:
                if self._latest[0] == index:
                    part = self._latest[1]  # the growing last group as last rendered: a few tokens behind
                    complete = False
            if part is None:
                complete = False
                break
            if lines and part:
                lines.append(BLANK)
            lines.extend(part)
        if self.ended:
            # Opened for reading: its first screenful is enough to start with; nobody waits on the others.
            enough = complete or (self.reading and len(lines) >= self.scroll.size.height > 0)
            if not enough:
                return False
            was = self.view
            following = self.scroll.following
            self.view = FINAL
            self._present(lines, width, look.name, complete)
            if was == TAIL or (was == LIVE and following):
                self.scroll.stop_following()  # a finished answer opens at its top (unless the reader scrolled)
            return True
        if not lines:
            return False
        self.view = LIVE
        self._present(lines, width, look.name, complete, live=True)
        return True

    def _present(self, lines: list[Strip], width: int, look: str, complete: bool, live: bool = False) -> None:
        doc, scroll = self.markdown, self.scroll
        if live and doc.pad and (not scroll.landed or self.app.animator.is_being_animated(scroll, "scroll_y")):
            # No change of geometry under a scroll that is still to move: the blank rows go once it has.
            rows, shift = max(doc.rows, len(lines)), 0
        else:
            rows = self._live_rows(len(lines)) if live else None
            shift = doc.pad - (rows - len(lines) if rows else 0) if lines else 0
        doc.show(self._text if complete else "", lines, width, look, complete, rows)
        if shift > 0 and not scroll.following:
            # The reader's lines stay where they are on screen when the blank rows above them go. The scroll
            # only decreases, so the old height's bounds allow it before the layout.
            scroll.scroll_y = max(0, scroll.scroll_y - shift)
        self._show(True)

    def _live_rows(self, count: int) -> int | None:
        """The height of a streaming document of `count` lines: stepped while it is followed and fills the view
        (see doc_view); exactly its lines otherwise, so a short answer reads from the top and a reader who
        scrolled up sees no blank rows above it."""
        doc, scroll = self.markdown, self.scroll
        view = scroll.size.height
        if not scroll.following or view <= 0 or count < view:
            return None
        step = max(LIVE_STEP, 2 * view)
        return doc.rows if count <= doc.rows <= count + 2 * step else count + step

    # --- internals ------------------------------------------------------------------------------------------------

    def _excerpt(self, chars: int) -> str:
        return head_of(self.source, chars) if self.tail.head else tail_of(self.source, chars)

    def _show(self, markdown: bool) -> None:
        if self.scroll.display != markdown:
            self.scroll.display = markdown
            self.tail.display = not markdown
            if markdown and not self._scrollbars_styled:
                # Styling a scroll area's scroll bars lays out the whole screen; by default that happens at the
                # pane's first focus (a freeze on every pane's first visit). Done now, it is batched with the
                # layout that shows the document, and focus later changes only colours.
                self._scrollbars_styled = True
                style_now(self.scroll)

    def _draw_header(self, force: bool = False) -> None:
        now = self.screen_clock()
        title, kind, label, metrics, error = self.header(now)
        key = (title, kind, label, error)
        # A new subtitle repaints the whole pane: the running metrics change with every token, so they are
        # redrawn at most METRICS_PERIOD apart; a new badge is drawn at once.
        wall = time.monotonic()
        if key == self._header and (metrics == self._metrics or (wall - self._metrics_at < METRICS_PERIOD and not force)):
            return
        self._header = key
        self._metrics, self._metrics_at = metrics, wall
        if kind != self._kind:
            self._kind = kind
            self._paint_border()
        # Content, never a str: a str border title is parsed as markup, and titles and errors are not ours.
        # The badge first: a long title is what gets cut, never the status.
        # The badge is a chip (its colour as background, a space either side), so it never runs into the title.
        self.border_title = Content.assemble((f" {look(kind).glyph} {label} ", chip_style(kind)), " ", (title, "bold"))
        self.border_subtitle = Content(metrics)
        if self.error_line.display != bool(error):
            self.error_line.display = bool(error)
        if error:
            self.error_line.update(Content(strip_controls(error)))
        self.tail.placeholder = self.placeholder(now)

    def screen_clock(self) -> float:
        clock = getattr(self.screen, "clock", None)
        return clock() if callable(clock) else 0.0


def line_rows(widget: Widget, text: str, width: int) -> int:
    """The rows a pane's line of text takes when shown: its wrapped text within its own bounds, and its border."""
    if not (widget.display and text):
        return 0
    styles = widget.styles
    rows = len(Content(text).wrap(max(1, width - styles.gutter.width))) + styles.gutter.height
    if styles.max_height is not None and styles.max_height.is_cells:
        rows = min(rows, int(styles.max_height.value) + styles.gutter.height)
    return rows
