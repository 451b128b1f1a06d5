"""Model text as Markdown, rendered into terminal lines (`Strip`s) by Rich, in a worker thread.

Why not Textual's `Markdown` widget: it makes a widget of every block, so a 3,000-token answer is hundreds of
widgets to mount (0.3-1.2 s of the event loop each time a finished pane was opened) and every layout of the screen
walks all of them. Here a document is a list of lines: rendering is a pure function of the text, the width and the
look, so it runs off the loop, is cached (`doc_cache`), and the pane that shows it is one widget however long the
answer (`widgets/doc_view.py`).

A document is rendered block group by block group (`split_blocks`): the groups before the last one never change
while a stream grows, so a streaming document only re-renders its last group, and a finished one renders its
first screenful first.

Model text stays inert: it is parsed by markdown-it with HTML off (a tag is text, never dropped), Rich's console
markup and emoji codes are off, links are shown as text with their address (no OSC 8 hyperlinks) and control
characters are stripped before the text gets here (`fanout.core.text.strip_controls`).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from markdown_it import MarkdownIt
from rich.console import Console
from rich.markdown import CodeBlock, Heading, Markdown
from rich.style import Style
from rich.syntax import Syntax
from rich.theme import Theme
from textual.strip import Strip

GROUP = 2_000  # characters per block group: a streaming document re-renders at most about this much


_local = threading.local()


def parser() -> MarkdownIt:
    """CommonMark with GitHub's tables and strikethrough, and HTML as text: model output is data. No linkify:
    links are shown as "text (address)", so a bare address would be shown twice. One per thread, made once."""
    md = getattr(_local, "parser", None)
    if md is None:
        md = _local.parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    return md


class _Heading(Heading):
    # Rich centres h1; in a narrow pane a left-aligned title reads better, like every other heading.
    LEVEL_ALIGN = {**Heading.LEVEL_ALIGN, "h1": "left"}


class _CodeBlock(CodeBlock):
    # Rich pads code with a blank line above and below; between blocks there already is one.
    def __rich_console__(self, console, options):
        yield Syntax(str(self.text).rstrip(), self.lexer_name, theme=self.theme, word_wrap=True, padding=(0, 1))


class PaneMarkdown(Markdown):
    elements = {**Markdown.elements, "heading_open": _Heading, "fence": _CodeBlock, "code_block": _CodeBlock}

    def __init__(self, text: str, code_theme: str) -> None:
        super().__init__("", code_theme=code_theme, hyperlinks=False)
        self.markup = text
        self.parsed = parser().parse(text)


@dataclass(frozen=True)
class Look:
    """What a rendering depends on besides the text and the width: the app's theme, as Rich styles."""

    name: str
    theme: Theme
    code_theme: str


def look_for(name: str, variables: dict[str, str], dark: bool) -> Look:
    """The app theme's colours for headings, links, quotes and code (Rich's defaults are fixed ANSI colours)."""
    accent = variables.get("accent", "cyan")
    primary = variables.get("primary", accent)
    muted = variables.get("text-muted", "grey50")
    panel = variables.get("panel", "grey15")

    def style(text: str) -> Style:
        try:
            return Style.parse(text)
        except Exception:  # noqa: BLE001 - a theme colour Rich cannot read: plain rather than broken
            return Style()

    styles = {
        "markdown.h1": style(f"bold underline {accent}"),
        "markdown.h2": style(f"bold {accent}"),
        "markdown.h3": style(f"bold {primary}"),
        "markdown.h4": style(f"italic {primary}"),
        "markdown.code": style(f"bold {accent} on {panel}"),
        "markdown.code_block": style(f"on {panel}"),
        "markdown.block_quote": style(muted),
        "markdown.link": style(f"underline {primary}"),
        "markdown.link_url": style(muted),
        "markdown.item.bullet": style(f"bold {accent}"),
        "markdown.item.number": style(accent),
        "markdown.table.border": style(muted),
        "markdown.table.header": style(f"bold {accent}"),
    }
    return Look(name, Theme(styles), "monokai" if dark else "default")


def render_block_group(text: str, width: int, look: Look) -> tuple[Strip, ...]:
    """One block group as lines `width` cells wide or less. Thread-safe: a console of its own, no app state."""
    if not text.strip():
        return ()
    console = Console(width=width, file=io.StringIO(), color_system="truecolor", force_terminal=True,
                      legacy_windows=False, theme=look.theme, markup=False, emoji=False, highlight=False,
                      soft_wrap=False)
    options = console.options.update(width=width, highlight=False, markup=False)
    lines = console.render_lines(PaneMarkdown(text, look.code_theme), options, pad=False, new_lines=False)
    while lines and not any(seg.text.strip() for seg in lines[-1]):
        lines.pop()  # the group's trailing blank lines: groups are joined with exactly one
    return tuple(Strip(line) for line in lines)


def _may_start_group(line: str) -> bool:
    """A line a new group may begin with: a paragraph, heading or fence at the margin. Not a list item, table
    row, quote or indented line: those may belong to the block above (a loose list, a list item's paragraph)."""
    first = line[:1]
    return bool(first) and first not in " \t-*+>|" and not first.isdigit()


def split_blocks(text: str, size: int = GROUP) -> list[str]:
    """The text cut into groups of whole top-level blocks of about `size` characters (never inside a code fence,
    never between a list and its continuation). A group depends only on the text before its end, so as the text
    grows the groups before the last stay exactly as they were."""
    groups: list[str] = []
    start = 0
    length = 0
    fence = ""
    blank_before = False
    pos = 0
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if not fence and blank_before and length >= size and _may_start_group(line):
            groups.append(text[start:pos])
            start, length = pos, 0
        marker = stripped[:3]
        if marker in ("```", "~~~"):
            fence = "" if fence and marker == fence else (fence or marker)
        blank_before = not line.strip()
        pos += len(line)
        length += len(line)
    groups.append(text[start:])
    return groups
