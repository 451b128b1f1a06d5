"""One call to a model, made well: limits, timeouts, the only retry loop, and the call's metrics.

A branch and the aggregator both go through `Caller.call`; the events it emits carry the caller's id.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Protocol

from fanout.providers.tokens import estimate_tokens
from fanout.providers.base import (
    Citation,
    GenerationRequest,
    Limits,
    Prices,
    Provider,
    ProviderError,
    SearchResults,
    SearchStarted,
    Stalled,
    StreamEnd,
    StreamItem,
    TextDelta,
)

from .backoff import decide
from .budget import Budget, worst_case_cost
from .events import BranchMetrics, BranchRetrying, BranchSearch, BranchStarted, Cited, Event, Source
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

    def request(self, messages: tuple, sample: int = 0, json_schema: dict | None = None,
                web_search: int = 0, grounded: tuple[int, ...] = ()) -> GenerationRequest:
        return GenerationRequest(
            model=self.model,
            messages=messages,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            sample=sample,
            json_schema=json_schema,
            web_search=web_search,
            grounded=grounded,
        )

    def prices(self, model: str) -> Prices | None:
        """The configured (or resolved) rates for the model that answered; None: unknown, never assumed free."""
        p = self.limits.prices
        return p.get(model) or p.get(self.model) or p.get("*")

    def cost(self, model: str, input_tokens: int, output_tokens: int, searches: int = 0) -> float | None:
        rates = self.prices(model)
        return rates.cost(input_tokens, output_tokens, searches) if rates else None


@dataclass
class CallResult:
    text: str
    metrics: BranchMetrics
    finish_reason: str = ""
    error: str = ""
    cancelled: bool = False
    over_budget: bool = False  # not started: its worst case did not fit in the budget
    sources: tuple[Source, ...] = ()  # the pages its web searches returned
    citations: tuple[Cited, ...] = ()

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
    # The searches, their results and the citations, each after the number of chunks that came before it.
    grounding: tuple[tuple[int, SearchStarted | SearchResults | Citation], ...] = ()
    searches: int | None = None


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


class Grounding:
    """What a call's stream says besides its text: its searches (each published as it starts and ends), the pages
    they returned and the answer's citations."""

    __slots__ = ("emit", "clock", "call_id", "sources", "citations", "searches")

    def __init__(self, emit: Callable[[Event], None], clock: Callable[[], float], call_id: str) -> None:
        self.emit, self.clock, self.call_id = emit, clock, call_id
        self.sources: list[Source] = []
        self.citations: list[Cited] = []
        self.searches = 0  # that returned (a failed search is not billed)

    def take(self, item: SearchStarted | SearchResults | Citation) -> None:
        if isinstance(item, SearchStarted):
            self.emit(BranchSearch(self.clock(), self.call_id, item.query))
        elif isinstance(item, SearchResults):
            self.searches += not item.error
            self.sources += [Source("web", r.url, r.title, r.page_age) for r in item.results]
            self.emit(BranchSearch(self.clock(), self.call_id, item.query, "failed" if item.error else "done",
                                   len(item.results), item.error))
        else:
            self.citations.append(Cited(item.url, item.title, item.cited_text, item.start, item.end))


@dataclass
class Attempt:
    """What one attempt's stream delivered."""

    text: list[str]
    end: StreamEnd
    grounding: Grounding
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


class Caller:
    def __init__(
        self,
        emit: Callable[[Event], None],
        clock: Callable[[], float],
        *,
        source: ResponseSource | None = None,
        rng: random.Random | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.emit = emit
        self.clock = clock
        self.source = source or DirectSource()
        self.rng = rng or random.Random()
        self.calls = 0  # provider calls actually made, attempts included
        self.health = Reachability()
        self.budget = budget

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
            held = None
            if self.health.gone(name) is None:
                await limiter.acquire(prompt_tokens + request.max_tokens)
                if self.health.gone(name) is not None:  # found out while this call waited for its slot
                    await limiter.release(None)
                elif self.budget is not None:  # its worst case is reserved, or it does not start
                    held = await self.budget.reserve(worst_case_cost(request, target.cost), request.model)
                    if held is None:
                        await limiter.release(None)
                        return CallResult("", tally.metrics(self.clock()), error=self.budget.stopped,
                                          over_budget=True)
            if (gone := self.health.gone(name)) is not None:
                return CallResult("", tally.metrics(self.clock()), error=f"not tried: {gone}")
            start = self.clock()
            tally.attempt(start)
            self.emit(BranchStarted(start, call_id, tally.attempts))
            attempt = Attempt([], StreamEnd(), Grounding(self.emit, self.clock, call_id))
            try:
                self.calls += 1
                await self._consume(target, request, attempt, on_token, start)
            except ProviderError as err:
                self._settle(held, 0.0)
                await limiter.release("throttled" if err.rate_limited else "error")
                failure = err
            except BaseException:
                self._settle(held, 0.0)
                await limiter.release(None)
                raise
            else:
                self.health.answered(name)
                await limiter.release("ok")
                result = self._answered(target, request, attempt, tally)
                self._settle(held, result.metrics.cost)
                return result
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

    def _settle(self, held: int | None, cost: float | None) -> None:
        if self.budget is not None:
            self.budget.settle(held, cost)

    def _answered(self, target: Target, request: GenerationRequest, attempt: Attempt, tally: _Tally) -> CallResult:
        """The result of the attempt that succeeded: its text, usage and cost."""
        end, found = attempt.end, attempt.grounding
        input_tokens, output_tokens, estimated = usage(end.input_tokens, end.output_tokens, request, attempt.deltas)
        model = end.model or request.model
        searches = end.searches if end.searches is not None else found.searches
        metrics = tally.metrics(
            self.clock(),
            ttft=None if end.batch else attempt.ttft,  # a batch's answer arrives whole: no first token to time
            batch=end.batch,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tokens_estimated=estimated,
            cost=target.cost(model, input_tokens, output_tokens, searches),
            model=model,
            searches=searches,
        )
        return CallResult("".join(attempt.text), metrics, finish_reason=end.finish_reason,
                          sources=tuple(found.sources), citations=tuple(found.citations))

    def _replay(
        self,
        call_id: str,
        request: GenerationRequest,
        recorded: Recorded,
        on_token: Callable[[str], None],
    ) -> CallResult:
        """A cache hit: no slot, no call, no cost. Its tokens were not spent again: they count as saved, not used.
        Its searches and citations come again where they came in the stream."""
        self.emit(BranchStarted(self.clock(), call_id, 1, cached=True))
        found = Grounding(self.emit, self.clock, call_id)
        pending = iter(recorded.grounding)
        item = next(pending, None)
        for i, (_, text) in enumerate(recorded.chunks):
            while item is not None and item[0] <= i:
                found.take(item[1])
                item = next(pending, None)
            on_token(text)
        while item is not None:
            found.take(item[1])
            item = next(pending, None)
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
        return CallResult("".join(t for _, t in recorded.chunks), metrics, finish_reason=recorded.finish_reason,
                          sources=tuple(found.sources), citations=tuple(found.citations))

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
                    else:
                        attempt.grounding.take(item)
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
