"""Keeping Python's garbage collector from pausing the screen.

A full (generation 2) collection walks every tracked object. Textual keeps a lot of them: each rendered line is a
`Strip` with seven small caches, so a screen of streaming panes holds 100,000-400,000 tracked objects, and a
full collection took 80-350 ms here, several times a minute while tokens streamed: the largest source of event
loop lag we measured (bench/tui_stream.py, 20 panes: p99 200 ms; with this module 20-40 ms).

`gc.freeze()` moves every object alive into a permanent generation that collections skip. Freezing does not
stop reference counting, so frozen objects that die are still freed; only reference cycles among frozen objects
wait for the next `reset()`. So:
- `reset()` when a run screen opens (a quiet moment, before its run starts): one full collection of everything,
  frozen included, then freeze the survivors;
- `Compactor.maybe()`, called by the pacer while panes are drawing, every COMPACT_EVERY: collect what was
  allocated since the last freeze (a few milliseconds: it is young), then freeze what survived. Automatic
  collections then only ever walk a fraction of a second's worth of objects;
- `release()` when the app ends.
"""

from __future__ import annotations

import gc
import time

COMPACT_EVERY = 0.25  # seconds


def reset() -> None:
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def release() -> None:
    """When the app ends: back to Python's ordinary collection."""
    gc.unfreeze()


class Compactor:
    def __init__(self, every: float = COMPACT_EVERY) -> None:
        self.every = every
        self._last = time.monotonic()

    def maybe(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            gc.collect()
            gc.freeze()
