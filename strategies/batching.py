"""Provider batches in a run: the branches that wait on no other step (or, with "all", each layer of steps in
turn) go to their provider as one batch, at the batch price, and their answers come back when it ends.

A batched branch runs like any other — cache, budget, retries, events — except that its call's provider is a
`BatchLine`: it hands its request to its group and waits. A group goes once each of its members has handed in its
request or will not (a cache hit, a branch kept or stopped), or when none has come for `GATHER` seconds and
`QUIET_TURNS` turns of the event loop (a member waiting on another's answer: an identical request, or room in the
budget). The batch's id is published the moment
it exists (BatchSubmitted, so the session keeps it), its request counts as the provider reports them
(BatchProgress), and each request's answer or the provider's reason it has none goes to its branch. A resumed run
waits in the batch its session submitted instead of submitting another; a request that arrives after its group
went makes a batch of its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import AsyncIterator, Callable, Mapping, Sequence

from fanout.providers.base import GenerationRequest, ProviderError, StreamItem, TextDelta
from fanout.providers.batch import BatchAPI, BatchLineFailed, BatchState, LineResult, batch_api

from .calls import Target
from .dag import topological_order
from .events import BatchProgress, BatchSubmitted, Event
from .limits import ProviderLimiter
from .recipe import Branch, CallSettings

GATHER = 0.5  # seconds without a new request before a group may go with what it has...
QUIET_TURNS = 100  # ...once that many turns of the event loop brought none either (a starved process is no sign)
FIRST_LOOK = 1.0  # seconds before the first look at a batch; each wait doubles, up to the provider's batch_poll
MODES = ("first", "all")


@dataclass
class BatchSpec:
    """How a run batches: `mode` "first" (the steps that wait on no other) or "all" (every layer in turn);
    `resolve` gives a batched call's target (batch prices, a batch's patience); `poll`, the longest wait between
    looks; `pending`, from a resumed session: the batch each unfinished branch is waiting in, and `requests`, every
    branch each of those batches holds."""

    mode: str
    resolve: Callable[[CallSettings], Target]
    poll: float = 60.0
    pending: Mapping[str, str] = field(default_factory=dict)
    requests: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def members(branches: Sequence[Branch], waits: Mapping[str, Sequence[str]], mode: str) -> dict[str, int]:
    """The batched branches and their layer (0: waits on nothing; n: right after layer n-1)."""
    depth: dict[str, int] = {}
    for bid in topological_order([b.id for b in branches], {b.id: tuple(waits.get(b.id, ())) for b in branches}):
        depth[bid] = 1 + max((depth[d] for d in waits.get(bid, ())), default=-1)
    return {bid: d for bid, d in depth.items() if mode == "all" or d == 0}


class Group:
    """The requests that go to one provider as one batch."""

    def __init__(self, batcher: "Batcher", target: Target, attach: str = "") -> None:
        self.batcher, self.target = batcher, target
        self.api: BatchAPI | None = batch_api(target.provider)
        self.expected: set[str] = set()
        self.lines: dict[str, GenerationRequest] = {}
        self.answers: dict[str, asyncio.Future[tuple[LineResult, str]]] = {}
        self.out: set[str] = set()
        self.attach = attach  # a batch submitted before (resumed): wait in it, never submit again
        self.gone = False
        self._stamp = 0

    def add(self, branch_id: str, request: GenerationRequest) -> asyncio.Future[tuple[LineResult, str]]:
        self.lines[branch_id] = request
        future = self.answers[branch_id] = asyncio.get_running_loop().create_future()
        self._changed()
        return future

    def leave(self, branch_id: str) -> None:
        if branch_id in self.expected and branch_id not in self.lines:
            self.out.add(branch_id)
            self._changed()

    def _changed(self) -> None:
        if self.gone:
            return
        if self.expected <= set(self.lines) | self.out:
            self._go()
            return
        self._stamp += 1
        asyncio.get_running_loop().call_later(GATHER, self._stale, self._stamp)

    def _stale(self, stamp: int, turns: int = QUIET_TURNS) -> None:
        """No request for GATHER seconds: the members still out may be waiting on one in this group (an identical
        request, room in the budget). The group goes once the loop has also turned without one arriving, so a
        process the machine merely starved does not split its batch."""
        if stamp != self._stamp or not self.lines or self.gone:
            return
        if turns:
            asyncio.get_running_loop().call_soon(self._stale, stamp, turns - 1)
        else:
            self._go()

    def _go(self) -> None:
        self.gone = True
        if self.lines:
            self.batcher.start(self._run())

    async def _run(self) -> None:
        batcher = self.batcher
        try:
            assert self.api is not None
            if self.attach:
                state, ids = await self.api.poll(self.attach), batcher.spec.requests.get(self.attach, ())
            else:
                state = await self.api.submit(list(self.lines.items()))
                ids = tuple(self.lines)
                batcher.emit(BatchSubmitted(batcher.clock(), state.id, self.target.provider.name, self.target.model,
                                            ids))
            state = await self._wait(state)
            results = await self.api.results(state.id, sorted(set(ids) | set(self.lines)))
        except ProviderError as err:
            self._fail(f"the batch failed: {err}")
            return
        except Exception as err:  # noqa: BLE001 - a bug here must fail the batch's branches, never leave them waiting
            self._fail(f"internal error in the batch: {type(err).__name__}: {err}")
            return
        for bid, future in self.answers.items():
            if not future.done():
                future.set_result((results.get(bid) or LineResult(error="no answer in the batch"), state.id))

    async def _wait(self, state: BatchState) -> BatchState:
        """Looks at the batch until it has ended, publishing its counts whenever they change."""
        batcher = self.batcher
        shown, delay = None, min(FIRST_LOOK, batcher.spec.poll)
        while True:
            seen = (state.status, state.total, state.succeeded, state.failed)
            if seen != shown:
                shown = seen
                batcher.emit(BatchProgress(batcher.clock(), state.id, *seen, ended=state.ended))
            if state.ended:
                return state
            await asyncio.sleep(delay)
            delay = min(delay * 2, batcher.spec.poll)
            assert self.api is not None
            state = await self.api.poll(state.id)

    def _fail(self, why: str) -> None:
        for future in self.answers.values():
            if not future.done():
                future.set_result((LineResult(error=why), ""))


class BatchLine:
    """A batched branch's provider: its request goes to its group's batch, its answer comes back whole."""

    def __init__(self, batcher: "Batcher", branch_id: str, real) -> None:
        self.batcher, self.branch_id = batcher, branch_id
        self.name, self.kind, self.model, self.base_url = real.name, real.kind, real.model, real.base_url
        self.concurrency = real.concurrency

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        result, batch_id = await self.batcher.line(self.branch_id, request)
        if result.error or result.end is None:
            raise BatchLineFailed(result.error or "the batch gave no answer")
        if result.text:
            yield TextDelta(result.text)
        yield replace(result.end, batch=batch_id)

    async def aclose(self) -> None:
        pass


class Batcher:
    def __init__(self, spec: BatchSpec, emit: Callable[[Event], None], clock: Callable[[], float]) -> None:
        self.spec, self.emit, self.clock = spec, emit, clock
        self.groups: dict[tuple, Group] = {}
        self.group_of: dict[str, Group] = {}
        self.targets: dict[str, Target] = {}
        self.limiter = ProviderLimiter(1_000_000, adaptive=False)  # a batch's lines take no concurrency slot
        self._tasks: set[asyncio.Task] = set()

    def wrap(self, branches: Sequence[Branch], waits: Mapping[str, Sequence[str]],
             targets: dict[str, Target]) -> dict[str, Target]:
        """`targets` with the batched branches' calls going to their batches."""
        out = dict(targets)
        by_id = {b.id: b for b in branches}
        for bid, layer in members(branches, waits, self.spec.mode).items():
            target = self.spec.resolve(by_id[bid].settings)
            attach = self.spec.pending.get(bid, "")
            key = ("resumed", attach) if attach else (layer, target.provider.name, target.model)
            if key not in self.groups:
                self.groups[key] = Group(self, target, attach)
            group = self.groups[key]
            group.expected.add(bid)
            self.group_of[bid] = group
            self.targets[bid] = target
            out[bid] = replace(target, provider=BatchLine(self, bid, target.provider), limiter=self.limiter)
        return out

    def line(self, branch_id: str, request: GenerationRequest) -> asyncio.Future[tuple[LineResult, str]]:
        group = self.group_of[branch_id]
        if group.gone:  # its batch went without it: it and the others still out make the next one
            group = self._next(group, branch_id)
        return group.add(branch_id, request)

    def _next(self, went: Group, branch_id: str) -> Group:
        late = Group(self, self.targets[branch_id])
        late.expected = went.expected - set(went.lines) - went.out
        for bid in late.expected:
            self.group_of[bid] = late
        return late

    def leave(self, branch_id: str) -> None:
        """The branch is over: if it never handed in a request, its group no longer waits for it."""
        group = self.group_of.get(branch_id)
        if group is not None:
            group.leave(branch_id)

    def start(self, work) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """The run is over: stop looking at batches (they go on at the provider; a resume collects them)."""
        for task in list(self._tasks):
            task.cancel()
