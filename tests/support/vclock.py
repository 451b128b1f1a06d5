"""An asyncio event loop on virtual time: sleeps and timeouts complete at once, and loop.time() advances by
exactly what they asked for. Scheduling tests can then assert exact wall times with no real waiting."""

from __future__ import annotations

import asyncio
import selectors


class _VirtualSelector:
    def __init__(self) -> None:
        self._real = selectors.DefaultSelector()
        self.loop: "VirtualTimeLoop | None" = None

    def select(self, timeout: float | None = None):
        ready = self._real.select(0)
        if ready or timeout is None:
            # Nothing scheduled: only a real wake-up (a thread, a socket) can move things on.
            return ready or self._real.select(None if timeout is None else 0)
        if timeout > 0 and self.loop is not None:
            self.loop.virtual_now += timeout
        return ready

    def __getattr__(self, name: str):
        return getattr(self._real, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self.virtual_now = 0.0

    def time(self) -> float:
        return self.virtual_now


def run_virtual(coro):
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
