"""When panes redraw: on one timer, a few at a time, never on an event.

Events only mark panes dirty (the engine can publish thousands of tokens a second). Every `TICK` the pacer
flushes the dirty panes that have waited longest, each at most once per `PERIOD`, and only as many per tick as
spreads all of them evenly over the period: twenty streaming panes cost about what two do per frame. Panes that
are not on screen are skipped; they catch up from the run state when they are shown.

A finished pane's Markdown document is the dear part: at most one is built at a time, the one being read first.
Panes nobody reads get one only while the finished Markdown on screen stays under `MARKDOWN_BUDGET` characters:
every Markdown block is a widget, and every layout of the screen walks all of them. The others keep the plain
view and get their Markdown when focused.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Sequence

from textual.await_complete import AwaitComplete

from . import gc_freeze
from .widgets.stream_pane import StreamPane

TICK = 0.025  # seconds between pacer ticks
PERIOD = 0.1  # each plain view redraws at most this often (10 per second, like PAR LLAMA's throttle)
# A Markdown append changes the document's height, and a height change costs a layout of the whole screen:
# live Markdown (the focused pane, the aggregator) is fed less often than the plain views.
MARKDOWN_PERIOD = 0.2
MARKDOWN_BUDGET = 30_000  # characters of finished Markdown kept for panes nobody is reading
PANE_LIMIT = 8_000  # a longer answer is rendered as Markdown only when read


class Pacer:
    def __init__(self, panes: Callable[[], Sequence[StreamPane]], clock: Callable[[], float] = time.monotonic) -> None:
        self._panes = panes
        self._clock = clock
        self._settling: AwaitComplete | None = None
        self._heap = gc_freeze.Compactor()

    def _to_settle(self, panes: Sequence[StreamPane]) -> list[tuple[StreamPane, bool]]:
        """Finished panes owed a Markdown document, as (pane, keep it when nobody reads it), readers first."""
        kept = sum(len(p.text) for p in self._panes() if p.settled and p.kept)
        out = []
        for pane in sorted(panes, key=lambda p: not p.reading):
            if not pane.ended or pane.settled:
                continue
            size = len(pane.text)
            fits = size <= PANE_LIMIT and kept + size <= MARKDOWN_BUDGET
            if pane.reading or fits:
                out.append((pane, fits))
                kept += size if fits else 0
        return out

    @property
    def busy(self) -> bool:
        """Something is still to be drawn: a dirty pane on screen, a document owed or one being built."""
        if self._settling is not None and not self._settling.is_done:
            return True
        shown = [p for p in self._panes() if p.on_screen]
        return any(p.dirty for p in shown) or bool(self._to_settle(shown))

    async def tick(self) -> None:
        now = self._clock()
        shown = [p for p in self._panes() if p.on_screen]
        if not shown:
            return
        budget = max(2, math.ceil(len(shown) * TICK / PERIOD))
        due = sorted(
            (p for p in shown if p.dirty and now - p.last_flush >= (MARKDOWN_PERIOD if p.reading else PERIOD)),
            key=lambda p: (not p.has_focus, p.last_flush),
        )
        for pane in due[:budget]:
            await pane.flush(now)
        self._settle_one(shown)
        if due or self._settling is not None:
            self._heap.maybe()

    def _settle_one(self, shown: Sequence[StreamPane]) -> None:
        if self._settling is not None and not self._settling.is_done:
            return
        self._settling = None
        owed = self._to_settle(shown)
        if owed:
            pane, keep = owed[0]
            self._settling = pane.settle(keep)

    async def flush_all(self) -> None:
        """Draw everything now, documents included (tests, snapshots, the end of a benchmark)."""
        now = self._clock()
        if self._settling is not None:
            await self._settling
            self._settling = None
        for pane in self._panes():
            if pane.is_mounted:
                await pane.flush(now, force=True)
        for pane, keep in self._to_settle([p for p in self._panes() if p.is_mounted]):
            await pane.settle(keep)
