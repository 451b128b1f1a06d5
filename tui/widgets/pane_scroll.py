"""A scroll area that follows its growing content until the user scrolls up, and follows again at the bottom."""

from __future__ import annotations

from typing import Callable

from textual.geometry import Size

from ..compat import FollowingScroll


class PaneScroll(FollowingScroll, can_focus=False):
    DEFAULT_CSS = """
    PaneScroll { height: 1fr; scrollbar-size-vertical: 1; scrollbar-gutter: stable; }
    """

    def __init__(self, *, classes: str | None = None, on_release: Callable[[], None] | None = None) -> None:
        super().__init__(classes=classes)
        self._follow = True
        self._on_release = on_release  # called when the reader's scroll away from the bottom has landed
        self._landed = True

    def release_anchor(self) -> None:
        # Textual releases the anchor when a scroll is asked for, and moves the scroll after the next refresh.
        super().release_anchor()
        self._landed = False

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self.anchor_released and not self._landed and old != new:
            self._landed = True
            if self._on_release is not None:
                self._on_release()

    @property
    def landed(self) -> bool:
        """No scroll asked for is still to move: positions read now are the ones the reader will see."""
        return self._landed

    def watch_virtual_size(self, size: Size) -> None:
        # Anchored, Textual bottom-aligns content shorter than the view (a negative scroll): anchor only once the
        # content overflows, so a short answer reads from the top.
        if self._follow and not self.is_anchored and size.height > self.scrollable_content_region.height:
            self.anchor()

    def stop_following(self) -> None:
        """A finished answer opened for reading: from its top, and it stays there."""
        self._follow = False
        if self.is_anchored:
            self.anchor(False)
        self.scroll_home(animate=False)

    @property
    def following(self) -> bool:
        if self.is_anchored:
            return not self.anchor_released
        return self._follow
