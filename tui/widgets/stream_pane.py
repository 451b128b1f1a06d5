"""A bordered pane showing one stream of model text: a branch's answer or the aggregator's synthesis.

Two views of the same text, because Markdown is too dear to stream into twenty panes at once (every Markdown
append changes a height, and a height change costs a layout of the whole screen, which grows with every block):
- `TailText`: plain text, the last lines while streaming and the first lines once finished. Its cost does not
  grow with the answer, and it repaints without a layout pass.
- `Markdown` in a following scroll area, fed through `Markdown.get_stream` while someone reads the pane (it has
  focus, or is zoomed, or is the aggregator), and holding the final text once the stream has ended.
When a stream ends, the pane's Markdown is rebuilt from the final text with `update()` (nothing buffered is lost,
as oterm once lost its last tokens, and a code fence cut mid-stream renders properly: Textual issue 6518), fed a
few blocks at a time (`slices`) so a long answer never stalls the screen for long; unless its live stream already
holds exactly that text with no fence in it, in which case re-rendering would only redraw the same blocks.

Which finished panes get a Markdown document is the pacer's call (`settle`): the one being read always; others
while the screen's Markdown stays small. The pane never redraws itself on an event: the run screen's `Pacer`
calls `flush()` and `settle()`, a few panes per tick.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from markdown_it import MarkdownIt
from textual.await_complete import AwaitComplete
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from fanout.core.text import strip_controls

from ..fmt import GLYPH
from .pane_scroll import PaneScroll
from .tail_text import TailText

METRICS_PERIOD = 0.5  # seconds between redraws of a streaming pane's metrics line
TAIL, LIVE, FINAL = "tail", "live", "final"  # what the pane shows: plain text, streaming Markdown, final Markdown
STATUS_COLOR = {"streaming": "accent", "retrying": "warning", "done": "success", "cached": "success",
                "failed": "error", "cancelled": "warning", "skipped": "warning"}  # theme variables
SLICE = 2_000  # characters of Markdown rendered per step when a finished answer is rendered whole


def text_html_parser() -> MarkdownIt:
    return MarkdownIt("gfm-like", {"html": False})


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


def slices(text: str, size: int = SLICE) -> list[str]:
    """The text cut at blank lines outside code fences into pieces of about `size` characters, so a long answer
    renders as Markdown a few blocks at a time (each piece a short stall) and no fence is ever cut in two."""
    pieces: list[str] = []
    current: list[str] = []
    length = 0
    fence = ""
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        marker = stripped[:3]
        if marker in ("```", "~~~"):
            fence = "" if fence and marker == fence else (fence or marker)
        current.append(line)
        length += len(line)
        if length >= size and not fence and not line.strip():
            pieces.append("".join(current))
            current, length = [], 0
    if current:
        pieces.append("".join(current))
    return pieces or [""]


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
        self.scroll = PaneScroll(classes="pane-scroll")
        # A model's link opens nothing, and its HTML is text: Textual drops HTML blocks, which would hide it.
        self.markdown = Markdown(open_links=False, parser_factory=text_html_parser, classes="pane-markdown")
        self.error_line = Static("", classes="pane-error", markup=False)
        self.dirty = True
        self.last_flush = 0.0
        self.view = TAIL
        self.kept = False  # a finished Markdown document kept while nobody reads the pane
        self._stream: MarkdownStream | None = None
        self._md_chunks = 0  # chunks of the live text already handed to the Markdown stream
        self._restart = False  # the text started over (a retry after tokens)
        self._lock = asyncio.Lock()
        self._settle_pending = False
        self._header: tuple[Any, ...] = ()
        self._metrics = ""
        self._metrics_at = 0.0
        self._kind = ""
        self.badges_shown: list[str] = []  # every badge this pane has displayed, for tests and debugging

    # --- what subclasses provide -----------------------------------------------------------------------------

    @property
    def source(self) -> Any:
        """An object with `chunks` and `final_text` (BranchState, AggregateState)."""
        raise NotImplementedError

    @property
    def ended(self) -> bool:
        raise NotImplementedError

    def header(self, now: float) -> tuple[str, str, str, str, str]:
        """(title, badge kind, badge label, metrics line, error line)."""
        raise NotImplementedError

    def placeholder(self) -> str:
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

    def on_focus(self) -> None:
        self._wake()
        self._paint_border()

    def on_blur(self) -> None:
        self._wake()
        self._paint_border()

    def _paint_border(self, *_: object) -> None:
        """The border's colour is the status, heavy when focused. Inline styles, not CSS classes: a class change
        restyles every descendant, hundreds of Markdown blocks in a long answer, for each change of status."""
        if not self.is_mounted:
            return
        color = self.app.theme_variables.get(STATUS_COLOR.get(self._kind, "panel-lighten-2"), "gray")
        self.styles.border = ("heavy" if self.has_focus else "round", color)

    def _wake(self) -> None:
        """Switch views on the next tick, not after the pacer's period."""
        self.dirty = True
        self.last_flush = 0.0

    # --- what the pacer reads -----------------------------------------------------------------------------------

    @property
    def reading(self) -> bool:
        """Someone is reading this pane: it deserves Markdown."""
        return self.has_focus or self.is_maximized or self.prefers_markdown

    @property
    def settled(self) -> bool:
        return self.view == FINAL or self._settle_pending

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

    def restart(self) -> None:
        self._restart = True
        self.dirty = True

    # --- what the pacer calls -------------------------------------------------------------------------------------

    async def flush(self, now: float, *, force: bool = False) -> None:
        """Cheap: the header, then the plain view repaints or the new text goes into the Markdown stream."""
        async with self._lock:  # the pacer's tick and a test's or benchmark's `settle()` may overlap
            await self._redraw(now, force)

    async def _redraw(self, now: float, force: bool) -> None:
        self.dirty = False
        self.last_flush = now
        self._draw_header(force)
        if self._restart:
            self._restart = False
            await self._stop_stream()
            self._md_chunks = 0
            if self.view == LIVE:
                self.markdown.update("")
        if self.view == FINAL:
            if not self.reading and not self.kept:
                self._drop_markdown()  # read on demand; not worth its widgets once nobody reads it
            return
        if self.reading and not self.ended and (self.source.chunks or self.view == LIVE):
            await self._stream_markdown()
        else:
            if self.view == LIVE and self.ended:
                return  # stays as it is until the pacer settles it
            await self._stop_stream()
            if self.view == LIVE:
                self.markdown.update("")
            self.view = TAIL
            self._show(False)
            self.tail.head = self.ended
            self.tail.refresh()

    def settle(self, keep: bool) -> AwaitComplete:
        """The final Markdown document (see the module's docstring). `keep`: keep it when nobody reads the pane."""
        self._settle_pending = True  # from now on the pacer counts it as settled
        return AwaitComplete(self._settle(keep))

    async def _settle(self, keep: bool) -> None:
        async with self._lock:
            self.kept = keep
            self._draw_header(force=True)
            text = strip_controls(self.text)
            was_live = self.view == LIVE
            exact = (was_live and self._md_chunks == len(self.source.chunks) and "```" not in text
                     and "~~~" not in text)
            self.view = FINAL
            self._settle_pending = False
            await self._stop_stream()
            if exact and self.markdown.source == text:
                return
            first, *rest = slices(text)
            await self.markdown.update(first)
            if not was_live:  # a finished answer opened for reading starts at its top
                self.scroll.stop_following()
            self._show(bool(text.strip()))
            for piece in rest:
                await self.markdown.append(piece)

    # --- internals ------------------------------------------------------------------------------------------------

    def _excerpt(self, chars: int) -> str:
        return head_of(self.source, chars) if self.tail.head else tail_of(self.source, chars)

    async def _stream_markdown(self) -> None:
        if self.view != LIVE:
            self._md_chunks = 0
            self.markdown.update("")
            self.view = LIVE
        self._show(True)
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
        chunks = self.source.chunks
        if len(chunks) < self._md_chunks:  # cleared under us: start over
            await self._stop_stream()
            self._md_chunks = 0
            self.markdown.update("")
            self._stream = Markdown.get_stream(self.markdown)
        if len(chunks) > self._md_chunks:
            fragment = "".join(chunks[self._md_chunks:])
            self._md_chunks = len(chunks)
            await self._stream.write(strip_controls(fragment))

    def _drop_markdown(self) -> None:
        self.markdown.update("")
        self.view = TAIL
        self._show(False)
        self.tail.head = True
        self.tail.refresh()

    async def _stop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.stop()

    def _show(self, markdown: bool) -> None:
        if self.scroll.display != markdown:
            self.scroll.display = markdown
            self.tail.display = not markdown

    def _draw_header(self, force: bool = False) -> None:
        title, kind, label, metrics, error = self.header(self.screen_clock())
        key = (title, kind, label, error)
        # A new subtitle repaints the whole pane: the running metrics change with every token, so they are
        # redrawn at most METRICS_PERIOD apart; a new badge is drawn at once.
        now = time.monotonic()
        if key == self._header and (metrics == self._metrics or (now - self._metrics_at < METRICS_PERIOD and not force)):
            return
        self._header = key
        self._metrics, self._metrics_at = metrics, now
        if kind != self._kind:
            self._kind = kind
            self._paint_border()
        if not self.badges_shown or self.badges_shown[-1] != label:
            self.badges_shown.append(label)
        # Content, never a str: a str border title is parsed as markup, and titles and errors are not ours.
        # The badge first: a long title is what gets cut, never the status.
        badge_style = f"bold ${STATUS_COLOR[kind]}" if kind in STATUS_COLOR else "$text-muted"
        self.border_title = Content.assemble((f"{GLYPH.get(kind, '')} {label}", badge_style), " · ", (title, "bold"))
        self.border_subtitle = Content(metrics)
        if self.error_line.display != bool(error):
            self.error_line.display = bool(error)
        if error:
            self.error_line.update(Content(strip_controls(error)))
        self.tail.placeholder = self.placeholder()

    def screen_clock(self) -> float:
        clock = getattr(self.screen, "clock", None)
        return clock() if callable(clock) else 0.0
