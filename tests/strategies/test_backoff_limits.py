"""Backoff decisions, Retry-After parsing and the adaptive limiter."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time

import pytest

from fanout.providers.base import Limits, StatusError, TransportError, classify_status, parse_retry_after
from fanout.strategies.backoff import decide
from fanout.strategies.limits import ProviderLimiter, TokenBucket

from vclock import run_virtual


def test_retry_after_forms():
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25  # ms wins
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize(
    "status,retry",
    [(408, True), (409, True), (429, True), (500, True), (502, True), (503, True), (529, True),
     (400, False), (401, False), (403, False), (404, False)],
)
def test_which_statuses_retry(status, retry):
    assert classify_status(status, "x").retryable is retry


def test_insufficient_quota_never_retries():
    err = classify_status(429, "You exceeded your current quota", error_code="insufficient_quota")
    assert not err.retryable and not err.rate_limited and "quota" in str(err)


def test_backoff_grows_and_caps_with_jitter_below():
    limits = Limits(backoff_base=0.5, backoff_max=8.0, max_retries=10)
    rng = random.Random(1)
    err = StatusError("503", 503)
    for attempt in range(1, 9):
        d = decide(err, attempt, limits, rng)
        ceiling = min(0.5 * 2 ** (attempt - 1), 8.0)
        assert d.retry and 0.75 * ceiling <= d.delay <= ceiling


def test_retry_after_is_a_floor():
    limits = Limits()
    rng = random.Random(2)
    for _ in range(50):
        d = decide(StatusError("429", 429, retry_after=4.0), 1, limits, rng)
        assert 4.0 <= d.delay <= 4.4


def test_limits_end_retrying():
    limits = Limits(max_retries=2, max_retry_after=10)
    rng = random.Random(3)
    assert not decide(TransportError("x"), 3, limits, rng).retry
    assert not decide(StatusError("x", 429, retry_after=11), 1, limits, rng).retry
    assert not decide(StatusError("401", 401), 1, limits, rng).retry


def test_adaptive_concurrency_halves_and_grows_back():
    async def go():
        lim = ProviderLimiter(8)
        await lim.acquire()
        await lim.release("throttled")
        assert lim.limit == 4
        await lim.acquire()
        await lim.release("throttled")
        assert lim.limit == 2
        for _ in range(5):
            await lim.acquire()
            await lim.release("ok")
        assert lim.limit == 3
        for _ in range(20):
            await lim.acquire()
            await lim.release("ok")
        assert lim.limit == 8  # back to the ceiling, never past it
        for _ in range(10):
            await lim.acquire()
            await lim.release("throttled")
        assert lim.limit == 1

    run_virtual(go())


def test_limiter_bounds_in_flight():
    async def go():
        lim = ProviderLimiter(3, adaptive=False)

        async def work():
            await lim.acquire()
            await asyncio.sleep(1)
            await lim.release("ok")

        await asyncio.gather(*(work() for _ in range(9)))
        return lim.peak, asyncio.get_running_loop().time()

    peak, elapsed = run_virtual(go())
    assert peak == 3 and elapsed == pytest.approx(3.0)


def test_limiter_is_first_come_first_served_and_survives_cancelled_waiters():
    async def go():
        lim = ProviderLimiter(2, adaptive=False)
        order: list[int] = []

        async def work(i: int):
            await lim.acquire()
            order.append(i)
            await asyncio.sleep(1)
            await lim.release("ok")

        tasks = [asyncio.create_task(work(i)) for i in range(8)]
        await asyncio.sleep(0.5)  # 0 and 1 hold the slots; 2..7 wait in that order
        tasks[3].cancel()  # cancelled while waiting
        await asyncio.sleep(0.6)  # 0 and 1 released at t=1: their slots went to 2 and 4
        tasks[5].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return order, lim.in_flight, lim.peak, asyncio.get_running_loop().time()

    order, in_flight, peak, elapsed = run_virtual(go())
    assert order == [0, 1, 2, 4, 6, 7] and in_flight == 0 and peak == 2
    assert elapsed == pytest.approx(3.0)


def test_a_slot_handed_to_a_waiter_cancelled_before_it_runs_is_passed_on():
    async def go():
        lim = ProviderLimiter(1, adaptive=False)
        await lim.acquire()
        first = asyncio.create_task(lim.acquire())
        second = asyncio.create_task(lim.acquire())
        await asyncio.sleep(0)  # both waiting
        await lim.release("ok")  # the slot goes to `first`...
        first.cancel()  # ...which is cancelled before it gets to run
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.wait_for(second, 1)  # so `second` has it
        return lim.in_flight

    assert run_virtual(go()) == 1


def test_requests_per_minute_bucket_spaces_requests():
    async def go():
        lim = ProviderLimiter(100, rpm=60)  # a burst of 60, then one a second
        loop = asyncio.get_running_loop()
        stamps = []
        for _ in range(63):
            await lim.acquire()
            stamps.append(loop.time())
            await lim.release("ok")
        return stamps

    stamps = run_virtual(go())
    assert stamps[59] == 0.0
    assert stamps[62] == pytest.approx(3.0)


def test_tokens_per_minute_bucket():
    async def go():
        bucket = TokenBucket(600)  # 10 tokens a second
        waited = [await bucket.take(600), await bucket.take(100)]
        return waited

    first, second = run_virtual(go())
    assert first == 0 and second == pytest.approx(10.0)
