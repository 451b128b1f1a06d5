"""When panes redraw and when their Markdown is rendered: on one timer, a few panes at a time, never on an event.

Events only mark panes dirty (the engine can publish thousands of tokens a second). Every `TICK` the pacer
flushes the dirty panes that have waited longest, each at most once per `PERIOD`, and only as many per tick as
spreads all of them evenly over the period: twenty streaming panes cost about what two do per frame. Panes that
are not on screen are skipped; they catch up from the run state when they are shown.

Markdown is rendered one block group at a time in one worker thread (`md_render`), into a cache (`doc_cache`),
the next group starting as soon as one is done, in this order:
1. the panes being read (focused, zoomed, the aggregator): a finished one's groups from the top, so its first
   screenful is there first; a streaming one's last group at most every `MARKDOWN_PERIOD`;
2. every other finished pane, on screen first: rendered ahead of need while the run ends, so focusing one
   later shows it at once.
A group already in the cache is never rendered again. One thread, because the work holds the GIL: a second one
would only take more turns from the event loop.
"""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from . import gc_freeze
from .doc_cache import DocCache
from .md_render import Look, render_block_group
from .widgets.stream_pane import StreamPane

TICK = 0.025  # seconds between pacer ticks
PERIOD = 0.1  # each plain view redraws at most this often (10 per second, like PAR LLAMA's throttle)
# A streaming document's last group is re-rendered (and the document grows) at most this often.
MARKDOWN_PERIOD = 0.2

RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fanout-markdown")
CACHE = DocCache()  # shared by every run screen: a replay or a re-run of the same answers renders nothing


class Pacer:
    def __init__(self, panes: Callable[[], Sequence[StreamPane]], clock: Callable[[], float] = time.monotonic,
                 cache: DocCache | None = None, look: Callable[[], Look] | None = None) -> None:
        self._panes = panes
        self._clock = clock
        self.cache = cache if cache is not None else CACHE
        self._look = look
        self._job: asyncio.Future | None = None
        self._heap = gc_freeze.Compactor()

    def look(self) -> Look | None:
        return self._look() if self._look is not None else None

    # --- rendering ------------------------------------------------------------------------------------------------

    def _next_group(self, look: Look, patient: bool = True) -> tuple[StreamPane, int, str, int] | None:
        """The most deserving group not yet rendered: (pane, index, text, width). `patient=False` ignores the
        live documents' period (is anything owed at all?)."""
        panes = [p for p in self._panes() if p.is_mounted and p.wants_doc]
        if not panes:
            return None
        shown = [p for p in panes if p.on_screen]
        # Hidden panes (the compact layout shows one branch at a time) take the width of the one on show.
        fallback = next((p.doc_width() for p in shown if p.doc_width() > 0 and not p.prefers_markdown), 0)
        now = self._clock()
        order = sorted(panes, key=lambda p: (not p.reading, not p.on_screen))
        for pane in order:
            width = pane.doc_width() if pane.on_screen else fallback
            if width <= 0:
                continue
            groups = pane.doc_groups()
            live = not pane.ended
            for index, group in enumerate(groups):
                if (group, width, look.name) in self.cache:
                    continue
                if live and index == len(groups) - 1 and patient and now - pane.live_asked < MARKDOWN_PERIOD:
                    break  # the growing last group: not again so soon
                return pane, index, group, width
        return None

    def _render_next(self) -> None:
        if self._job is not None:
            return
        look = self.look()
        if look is None:
            return
        picked = self._next_group(look)
        if picked is None:
            return
        pane, index, group, width = picked
        if not pane.ended and index == len(pane.doc_groups()) - 1:
            pane.live_asked = self._clock()
        key = (group, width, look.name)
        job = asyncio.get_running_loop().run_in_executor(RENDERER, render_block_group, group, width, look)
        self._job = job

        def done(future: asyncio.Future) -> None:
            self._job = None
            if future.cancelled():
                return
            error = future.exception()
            if error is not None:  # a rendering bug must not stop the screen: that pane stays plain
                pane.log.error(f"Markdown rendering failed: {error!r}")
                self.cache.put(key, ())
            else:
                self.cache.put(key, future.result())
                pane.rendered(index, future.result())
            self._render_next()

        job.add_done_callback(done)

    # --- drawing ----------------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Something is still to be drawn: a dirty pane on screen, a group owed or being rendered."""
        if self._job is not None:
            return True
        if any(p.dirty for p in self._panes() if p.on_screen):
            return True
        look = self.look()
        return look is not None and self._next_group(look, patient=False) is not None

    async def tick(self) -> None:
        now = self._clock()
        shown = [p for p in self._panes() if p.on_screen]
        if not shown:
            return
        look = self.look()
        budget = max(2, math.ceil(len(shown) * TICK / PERIOD))
        due = sorted(
            (p for p in shown if p.dirty and now - p.last_flush >= (MARKDOWN_PERIOD if p.reading else PERIOD)),
            key=lambda p: (not p.has_focus, p.last_flush),
        )
        for pane in due[:budget]:
            await pane.flush(now, cache=self.cache, look=look)
        self._render_next()
        if due or self._job is not None:
            self._heap.maybe()

    async def flush_all(self) -> None:
        """Render and draw everything now (tests, snapshots, the end of a benchmark)."""
        look = self.look()
        while True:
            if self._job is not None:
                await asyncio.wait([self._job])
                await asyncio.sleep(0)  # let its done-callback run and start the next group
                continue
            if look is None or self._next_group(look, patient=False) is None:
                break
            for pane in self._panes():
                pane.live_asked = 0.0
            self._render_next()
        now = self._clock()
        for pane in self._panes():
            if pane.is_mounted:
                await pane.flush(now, cache=self.cache, look=look, force=True)
