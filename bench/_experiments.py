"""Experiments, not fanout's code: alternatives to fanout internals, patched in only by the scripts that price them
(`engine_cpu.py`, and `vs_plain.py --experiment-watchdog`), to show what a suggested change would buy.

`watchdog_consume` is `strategies/calls.py Caller._consume` with the per-chunk `asyncio.wait_for` (a new Task for
every chunk on Python 3.11) replaced by one timer per stream: each chunk only records its time; the timer re-arms
itself from the last chunk's time and cancels the read when the first chunk (`limits.timeout`) or the next one
(`limits.stall_timeout`) is late, which becomes the same retryable "stalled" ProviderError.
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import Iterator


async def watchdog_consume(self, target, request, attempt, on_token, start) -> None:
    from fanout.providers.base import ProviderError, StreamEnd, TextDelta

    loop, limits, task = asyncio.get_running_loop(), target.limits, asyncio.current_task()
    st = {"last": loop.time(), "first": True, "fired": False, "handle": None}

    def check() -> None:
        limit = limits.timeout if st["first"] else limits.stall_timeout
        due = st["last"] + limit
        if loop.time() >= due:
            st["fired"] = True
            task.cancel()
        else:
            st["handle"] = loop.call_at(due, check)

    st["handle"] = loop.call_at(st["last"] + limits.timeout, check)
    it = self.source.stream(target, request)
    try:
        async for item in it:
            st["last"], st["first"] = loop.time(), False
            if isinstance(item, TextDelta):
                if attempt.ttft is None:
                    attempt.ttft = self.clock() - start
                attempt.text.append(item.text)
                attempt.deltas += 1
                on_token(item.text)
            elif isinstance(item, StreamEnd):
                attempt.end = item
    except asyncio.CancelledError:
        if st["fired"]:
            what = "no response" if st["first"] else "the stream stalled"
            limit = limits.timeout if st["first"] else limits.stall_timeout
            raise ProviderError(f"{what} for {limit:g} s", retryable=True, kind="stalled") from None
        raise
    finally:
        st["handle"].cancel()
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            await aclose()


@contextmanager
def patched_consume(consume) -> Iterator[None]:
    from fanout.strategies.calls import Caller

    original = Caller._consume
    Caller._consume = consume
    try:
        yield
    finally:
        Caller._consume = original


async def wait_for_consume(self, target, request, attempt, on_token, start) -> None:
    """Caller._consume as it was up to commit 4882842: one asyncio.wait_for per chunk (a Task per chunk)."""
    from fanout.providers.base import ProviderError, StreamEnd, TextDelta

    limits = target.limits
    it = self.source.stream(target, request).__aiter__()
    first = True
    try:
        while True:
            timeout = limits.timeout if first else limits.stall_timeout
            try:
                item = await asyncio.wait_for(it.__anext__(), timeout)
            except StopAsyncIteration:
                break
            except TimeoutError:
                what = "no response" if first else "the stream stalled"
                raise ProviderError(f"{what} for {timeout:g} s", retryable=True, kind="stalled") from None
            first = False
            if isinstance(item, TextDelta):
                if attempt.ttft is None:
                    attempt.ttft = self.clock() - start
                attempt.text.append(item.text)
                attempt.deltas += 1
                on_token(item.text)
            elif isinstance(item, StreamEnd):
                attempt.end = item
    finally:
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            await aclose()


@contextmanager
def yielding_source() -> Iterator[None]:
    """Every call's stream gives the event loop a turn after each item (`await asyncio.sleep(0)`), whatever
    Caller._consume does: patches the response source (fanout.cache.ResponseCache.stream, which every run made by
    launch.prepare reads through, cache on or off)."""
    from fanout.stores.cache import ResponseCache

    original = ResponseCache.stream

    async def stream(self, target, request):
        async for item in original(self, target, request):
            yield item
            await asyncio.sleep(0)

    ResponseCache.stream = stream
    try:
        yield
    finally:
        ResponseCache.stream = original
