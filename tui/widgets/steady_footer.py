"""Textual's Footer, rebuilt only when the keys it shows change.

The stock Footer recomposes (unmounts and mounts a widget per key, restyles them, lays out the screen) every
time the focus moves, even when the new widget offers exactly the same keys. Reading a finished run is moving
from pane to pane, all with the same keys: that rebuild was most of each move's 70-130 ms freeze
(`python -m fanout.tui.bench_stream`, "reading each pane"). Same look, same clicks; the work is skipped only
when what it would show is what is on show.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class SteadyFooter(Footer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None

    def _keys(self, screen: Screen) -> tuple:
        """Everything the Footer's compose reads from the bindings (and the command palette's key is one)."""
        return tuple(
            (key, binding.key_display, binding.description, binding.action, binding.group, binding.show, enabled,
             tooltip)
            for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()
        ) + (self.show_command_palette, self.compact)

    def bindings_changed(self, screen: Screen) -> None:
        rebuilds = screen.app.app_focus and self.is_attached and screen is self.screen
        if rebuilds:
            keys = self._keys(screen)
            if keys == self._shown:
                return  # the same keys are on show (and the Footer was made ready when they were built)
            self._shown = keys
        super().bindings_changed(screen)
