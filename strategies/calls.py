"""One call to a model, made well: limits, timeouts, the only retry loop, and the call's metrics.

A branch and the aggregator both go through `Caller.call`; the events it emits carry the caller's id.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Protocol

from fanout.providers.base import (
    GenerationRequest,
    Limits,
    Prices,
    Provider,
    ProviderError,
    Stalled,
    StreamEnd,
    StreamItem,
    TextDelta,
)

from .backoff import decide
from .events import BranchMetrics, BranchRetrying, BranchStarted, Event
from .health import Reachability
from .limits import ProviderLimiter


@dataclass
class Target:
    """Where one call goes, resolved from the flags, the recipe and the config."""

    provider: Provider
    limits: Limits
    limiter: ProviderLimiter
    model: str
    temperature: float | None
    max_tokens: int
    context_tokens: int | None = None  # the model's context window, where it is known (the embedded model's)

    def request(self, messages: tuple, sample: int = 0, json_schema: dict | None = None) -> GenerationRequest:
        return GenerationRequest(
            model=self.model,
            messages=messages,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            sample=sample,
            json_schema=json_schema,
        )

    def prices(self, model: str) -> Prices | None:
        """The configured (or resolved) rates for the model that answered; None: unknown, never assumed free."""
        p = self.limits.prices
        return p.get(model) or p.get(self.model) or p.get("*")

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        rates = self.prices(model)
        return rates.cost(input_tokens, output_tokens) if rates else None


@dataclass
class CallResult:
    text: str
    metrics: BranchMetrics
    finish_reason: str = ""
    error: str = ""
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.error and not self.cancelled


@dataclass(frozen=True)
class Recorded:
    """A whole response as the cache keeps it: every chunk with its offset from the request, and the usage."""

    chunks: tuple[tuple[float, str], ...]
    input_tokens: int | None
    output_tokens: int | None
    finish_reason: str
    model: str
    latency: float | None = None  # what the call took when it was made (older entries: their last chunk's offset)


class MissInOfflineMode(Exception):
    """`--cache only` and no stored response: the branch fails without a call."""


class ResponseSource(Protocol):
    """Where a call's stream comes from: the provider itself, or the cache in front of it."""

    async def lookup(self, target: Target, request: GenerationRequest) -> Recorded | None: ...

    def stream(self, target: Target, request: GenerationRequest) -> AsyncIterator[StreamItem]: ...

    def done(self, target: Target, request: GenerationRequest) -> None:
        """The call is over, however it ended (identical requests waiting on it may go on)."""


class DirectSource:
    async def lookup(self, target: Target, request: GenerationRequest) -> None:
        return None

    def stream(self, target: Target, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        return target.provider.stream(request)

    def done(self, target: Target, request: GenerationRequest) -> None:
        pass


@dataclass
class _Tally:
    """One call's attempts so far: when the first started, and the retries, throttles and backoff between them."""

    attempts: int = 0
    first_start: float | None = None
    retries: int = 0
    throttles: int = 0
    backoff: float = 0.0

    def attempt(self, start: float) -> None:
        self.attempts += 1
        if self.first_start is None:
            self.first_start = start

    def retry(self, failure: ProviderError, delay: float) -> None:
        self.retries += 1
        self.throttles += 1 if failure.rate_limited else 0
        self.backoff += delay

    def metrics(self, now: float, **measured: Any) -> BranchMetrics:
        latency = now - self.first_start if self.first_start is not None else 0.0
        return BranchMetrics(latency=latency, retries=self.retries, throttles=self.throttles, backoff=self.backoff,
                             **measured)


@dataclass
class Attempt:
    """What one attempt's stream delivered."""

    text: list[str]
    end: StreamEnd
    ttft: float | None = None
    deltas: int = 0


def usage(
    reported_in: int | None, reported_out: int | None, request: GenerationRequest, deltas: int
) -> tuple[int, int, bool]:
    """(input, output, estimated): the provider's counts, or estimates where it gave none (the prompt's length,
    and one token a streamed delta)."""
    estimated = reported_in is None or reported_out is None
    input_tokens = reported_in if reported_in is not None else estimate_tokens(
        "".join(m.content for m in request.messages)
    )
    return input_tokens, reported_out if reported_out is not None else deltas, estimated


def estimate_tokens(text: str) -> int:
    """About four characters a token: used only when a provider reports no usage, and marked as an estimate."""
    return max(1, round(len(text) / 4)) if text else 0


class Caller:
    def __init__(
        self,
        emit: Callable[[Event], None],
        clock: Callable[[], float],
        *,
        source: ResponseSource | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.emit = emit
        self.clock = clock
        self.source = source or DirectSource()
        self.rng = rng or random.Random()
        self.calls = 0  # provider calls actually made, attempts included
        self.health = Reachability()

    async def call(
        self,
        call_id: str,
        target: Target,
        request: GenerationRequest,
        on_token: Callable[[str], None],
    ) -> CallResult:
        try:
            recorded = await self.source.lookup(target, request)
        except MissInOfflineMode as err:
            return CallResult("", BranchMetrics(), error=str(err))
        if recorded is not None:
            return self._replay(call_id, request, recorded, on_token)
        try:
            return await self._call(call_id, target, request, on_token)
        finally:
            self.source.done(target, request)

    async def _call(
        self,
        call_id: str,
        target: Target,
        request: GenerationRequest,
        on_token: Callable[[str], None],
    ) -> CallResult:
        limiter = target.limiter
        name = target.provider.name
        prompt_tokens = estimate_tokens("".join(m.content for m in request.messages))
        tally = _Tally()
        while True:
            if self.health.gone(name) is None:
                await limiter.acquire(prompt_tokens + request.max_tokens)
                if self.health.gone(name) is not None:  # found out while this call waited for its slot
                    await limiter.release(None)
            if (gone := self.health.gone(name)) is not None:
                return CallResult("", tally.metrics(self.clock()), error=f"not tried: {gone}")
            start = self.clock()
            tally.attempt(start)
            self.emit(BranchStarted(start, call_id, tally.attempts))
            attempt = Attempt([], StreamEnd())
            try:
                self.calls += 1
                await self._consume(target, request, attempt, on_token, start)
            except ProviderError as err:
                await limiter.release("throttled" if err.rate_limited else "error")
                failure = err
            except BaseException:
                await limiter.release(None)
                raise
            else:
                self.health.answered(name)
                await limiter.release("ok")
                return self._answered(target, request, attempt, tally)
            if self.health.failed(name, failure):
                return CallResult("", tally.metrics(self.clock()), error=str(failure))
            decision = decide(failure, tally.attempts, target.limits, self.rng)
            if not decision.retry:
                return CallResult("".join(attempt.text), tally.metrics(self.clock()), error=decision.reason)
            restart = bool(attempt.text)
            reason = decision.reason + (" (restarting: the stream broke after tokens arrived)" if restart else "")
            self.emit(BranchRetrying(self.clock(), call_id, tally.attempts, decision.delay, reason, restart,
                                     throttled=failure.rate_limited))
            tally.retry(failure, decision.delay)
            await asyncio.sleep(decision.delay)

    def _answered(self, target: Target, request: GenerationRequest, attempt: Attempt, tally: _Tally) -> CallResult:
        """The result of the attempt that succeeded: its text, usage and cost."""
        end = attempt.end
        input_tokens, output_tokens, estimated = usage(end.input_tokens, end.output_tokens, request, attempt.deltas)
        model = end.model or request.model
        metrics = tally.metrics(
            self.clock(),
            ttft=attempt.ttft,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tokens_estimated=estimated,
            cost=target.cost(model, input_tokens, output_tokens),
            model=model,
        )
        return CallResult("".join(attempt.text), metrics, finish_reason=end.finish_reason)

    def _replay(
        self,
        call_id: str,
        request: GenerationRequest,
        recorded: Recorded,
        on_token: Callable[[str], None],
    ) -> CallResult:
        """A cache hit: no slot, no call, no cost. Its tokens were not spent again: they count as saved, not used."""
        self.emit(BranchStarted(self.clock(), call_id, 1, cached=True))
        for _, text in recorded.chunks:
            on_token(text)
        input_tokens, output_tokens, estimated = usage(
            recorded.input_tokens, recorded.output_tokens, request, len(recorded.chunks)
        )
        metrics = BranchMetrics(
            ttft=0.0,
            latency=0.0,
            tokens_estimated=estimated,
            cached=True,
            saved_tokens=input_tokens + output_tokens,
            model=recorded.model or request.model,
            cached_latency=recorded.latency,
        )
        return CallResult("".join(t for _, t in recorded.chunks), metrics, finish_reason=recorded.finish_reason)

    async def _consume(
        self,
        target: Target,
        request: GenerationRequest,
        attempt: Attempt,
        on_token: Callable[[str], None],
        start: float,
    ) -> None:
        """Reads one attempt's stream. A silent server is abandoned after the timeout (before the first chunk) or
        the stall timeout (between later chunks), so nothing ever hangs."""
        limits = target.limits
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        dog = _Watchdog(loop, task, limits.timeout, limits.stall_timeout)
        it = self.source.stream(target, request).__aiter__()
        try:
            try:
                async for item in it:
                    dog.last, dog.first = loop.time(), False
                    if isinstance(item, TextDelta):
                        if attempt.ttft is None:
                            attempt.ttft = self.clock() - start
                        attempt.text.append(item.text)
                        attempt.deltas += 1
                        on_token(item.text)
                    elif isinstance(item, StreamEnd):
                        attempt.end = item
                    # Chunks already buffered arrive without a suspension: give the other streams (and the
                    # app, on the same loop) their turn, or a backlog of one stream holds the loop
                    # (bench/loop_fairness.py: without it the loop's p99 stall at 1,000 branches is 1.3x).
                    await asyncio.sleep(0)
            finally:
                dog.stop()
                aclose = getattr(it, "aclose", None)
                if aclose is not None:
                    await aclose()
        except asyncio.CancelledError:
            if dog.fired and task.uncancel() <= cancelling:  # our own cancel, not the run's or the user's
                what = ("no response", limits.timeout) if dog.first else ("the stream stalled", limits.stall_timeout)
                raise Stalled(f"{what[0]} for {what[1]:g} s") from None
            raise


class _Watchdog:
    """One timer a stream, for both timeouts. A chunk only notes its time; the timer, when it comes due, re-arms
    itself from the last chunk's time, and cancels the read only if that chunk is really late. Rescheduling an
    `asyncio.timeout` at every chunk cost a timer-heap push and a cancelled handle per chunk: 2-3x the CPU."""

    __slots__ = ("loop", "task", "timeout", "stall", "last", "first", "fired", "handle")

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task, timeout: float, stall: float) -> None:
        self.loop, self.task = loop, task
        self.timeout, self.stall = timeout, stall  # the first chunk is awaited `timeout`, each later one `stall`
        self.last = loop.time()
        self.first = True
        self.fired = False
        self.handle = loop.call_at(self.last + timeout, self._due)

    def _due(self) -> None:
        due = self.last + (self.timeout if self.first else self.stall)
        if self.loop.time() >= due:
            self.fired = True
            self.task.cancel()
        else:
            self.handle = self.loop.call_at(due, self._due)

    def stop(self) -> None:
        self.handle.cancel()
