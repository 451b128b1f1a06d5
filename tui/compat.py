"""Every place fanout relies on Textual beyond its public API, in one module.

Each use is named here, checked when this module is imported, and falls back to plain Textual behaviour when what
it relies on is gone (the app then works as stock Textual does, a little slower or less smooth). The test
`tests/tui/test_tui_compat.py` fails loudly when a Textual upgrade changes any of them: pyproject bounds textual
below 9, and raising that bound means running that test first.

The product uses:
- `QuietFocusScreen`: a screen that does not repaint itself whole each time the focus moves;
- `FollowingScroll`: a vertical scroll area whose anchor (follow the growing end) comes back near the bottom, not only at
  its very last row, and that can say whether the reader has scrolled away;
- `style_now`: a widget's styles computed now rather than on its first focus.
The tests use `screen_text` (what the terminal shows, as text), `notifications` and `WORK` (the methods that do
a layout of the screen and a full repaint, for tests that count them).
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.app import App
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget

try:  # the compositor is Textual's own module: what a full repaint is, and how a screen is drawn to text
    from textual._compositor import Compositor
except ImportError:  # pragma: no cover - only on a Textual that moved it
    Compositor = None  # type: ignore[assignment,misc]


def _has(obj: Any, *names: str) -> bool:
    return all(hasattr(obj, name) for name in names)


# --- the product ------------------------------------------------------------------------------------------------

# Screen.focused is a reactive that repaints the whole screen when it changes. A run screen's panes redraw their
# own border when they gain or lose focus, so that repaint (30-60 ms at 200x60 with twenty panes) bought nothing.
QUIET_FOCUS = isinstance(Screen.__dict__.get("focused"), Reactive)


class QuietFocusScreen(Screen):
    """A screen whose focused widgets redraw themselves when the focus moves: no repaint of the whole screen."""

    if QUIET_FOCUS:
        focused: Reactive[Widget | None] = Reactive(None, repaint=False)


# Textual's anchor (a scroll area that keeps to the end of growing content) is public (`anchor`, `is_anchored`,
# `release_anchor`), but whether the reader has scrolled away from it, and when it comes back, are not.
_probe = Widget()
ANCHOR = _has(Widget, "_check_anchor") and _has(_probe, "_anchored", "_anchor_released")
del _probe


class FollowingScroll(VerticalScroll):
    """A scroll area whose anchor comes back `resume_rows` from the bottom (Textual resumes only at the very last
    row, and readers expect "at the bottom" to be a little generous)."""

    resume_rows = 2

    @property
    def anchor_released(self) -> bool:
        """Anchored, but the reader has scrolled away from the end."""
        return bool(getattr(self, "_anchor_released", False)) if ANCHOR else False

    if ANCHOR:
        def _check_anchor(self) -> None:
            if self._anchored and self._anchor_released and self.scroll_y >= self.max_scroll_y - self.resume_rows:
                self._anchor_released = False


def style_now(node: DOMNode) -> None:
    """Compute a node's styles on the next refresh. Textual styles a scroll area's scroll bars the first time the
    area is restyled (for a pane, its first focus), and that lays out the whole screen: done while something else
    lays it out anyway, it costs nothing extra. Without it the styling happens at first focus, as in stock Textual."""
    if _has(node, "update_node_styles"):
        node.call_after_refresh(node.update_node_styles)


# --- the tests ---------------------------------------------------------------------------------------------------

SCREEN_TEXT = Compositor is not None and _has(Compositor, "render_update") and _has(App, "_background_screens")


def screen_text(app: App) -> str:
    """What the terminal shows, as plain text (the screen with the screens it sits on, as Textual composes them)."""
    if not SCREEN_TEXT:
        raise RuntimeError("this Textual cannot compose a screen to text: see fanout.tui.compat")
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


def notifications(app: App) -> list[str]:
    """The messages of the notifications on show."""
    return [n.message for n in getattr(app, "_notifications", ())]


# The methods that do the expensive things a smooth screen avoids: a layout of the whole screen, and a repaint of
# all of it. Tests wrap them to count how often they run.
WORK: dict[str, tuple[type, str]] = {
    what: (owner, name)
    for what, owner, name in (("layouts", Screen, "_refresh_layout"),
                              ("full repaints", Compositor, "render_full_update"))
    if owner is not None and _has(owner, name)
}
