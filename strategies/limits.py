"""Bounds on how hard one provider is pushed: adaptive concurrency and requests / tokens per minute.

Concurrency follows AIMD, as promptfoo does: a 429 halves the limit (never below 1) and every 5 successes in a
row grow it by half again, back toward the configured ceiling. So a rate-limited provider is slowed down rather
than hammered, and the throttles show up in the run's metrics instead of silently serialising it.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque


class TokenBucket:
    """`per_minute` units, refilled continuously; a request larger than the bucket waits for a full bucket."""

    def __init__(self, per_minute: float) -> None:
        self.capacity = float(per_minute)
        self.level = float(per_minute)
        self.rate = per_minute / 60.0
        self._stamp: float | None = None

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, amount: float) -> float:
        """Waits until `amount` is available, takes it; returns the seconds waited."""
        loop = asyncio.get_running_loop()
        amount = min(amount, self.capacity)
        waited = 0.0
        while True:
            now = loop.time()
            self._refill(now)
            if self.level >= amount:
                self.level -= amount
                return waited
            pause = (amount - self.level) / self.rate
            await asyncio.sleep(pause)
            waited += pause


class ProviderLimiter:
    """Slots are handed over first come, first served: a release gives its slot straight to the longest waiter.
    (A Condition with notify_all woke every waiter at every release to re-check: O(waiters) a call, which at
    1,000 branches on 100 slots was a tenth of the engine's CPU.)"""

    def __init__(
        self,
        concurrency: int,
        *,
        adaptive: bool = True,
        rpm: int | None = None,
        tpm: int | None = None,
        grow_after: int = 5,
    ) -> None:
        self.ceiling = max(1, concurrency)
        self.limit = self.ceiling
        self.adaptive = adaptive
        self.in_flight = 0
        self.peak = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._streak = 0
        self._grow_after = grow_after
        self._rpm = TokenBucket(rpm) if rpm else None
        self._tpm = TokenBucket(tpm) if tpm else None

    async def acquire(self, tokens: int = 0) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # resolved by _hand_over, which has counted the slot as ours
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self.in_flight -= 1  # handed a slot, then cancelled before using it: pass it on
                    self._hand_over()
                elif waiter in self._waiters:  # (a release may have dropped it already)
                    self._waiters.remove(waiter)
                raise
        self.peak = max(self.peak, self.in_flight)
        try:
            if self._rpm:
                await self._rpm.take(1)
            if self._tpm and tokens:
                await self._tpm.take(tokens)
        except BaseException:
            await self.release(None)
            raise

    async def release(self, outcome: str | None) -> None:
        """`outcome`: "ok", "throttled" (a 429), anything else counts as neither."""
        self.in_flight -= 1
        if self.adaptive and outcome == "throttled":
            self.limit = max(1, self.limit // 2)
            self._streak = 0
        elif self.adaptive and outcome == "ok":
            self._streak += 1
            if self._streak >= self._grow_after and self.limit < self.ceiling:
                self.limit = min(self.ceiling, math.ceil(self.limit * 1.5))
                self._streak = 0
        self._hand_over()

    def _hand_over(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a cancelled waiter is skipped: it has removed nothing, taken nothing
                self.in_flight += 1
                waiter.set_result(None)
