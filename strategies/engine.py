"""Runs a recipe under a strategy and publishes what happens as one stream of events.

The three strategies are one scheduler over three sets of edges: every branch starts the moment the branches
it waits on have finished and its provider has a free slot.
- sequential: a chain in dependency order; each step sees every earlier step.
- parallel: no edges; no step sees another.
- hybrid: the recipe's own `after` edges; each step sees its own dependencies.
Hybrid is therefore eager, not phase by phase: a step never waits for a slow branch it does not depend on.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import AsyncIterator, Callable

from .aggregate import aggregate
from .calls import Caller, CallResult, ResponseSource, Target
from .dag import topological_order
from .events import (
    BranchFailed,
    BranchInfo,
    BranchMetrics,
    BranchQueued,
    BranchRetrying,
    BranchToken,
    BranchDone,
    Event,
    RunDone,
    RunStarted,
    total_cost,
)
from .metrics import run_metrics
from .answers import read_answer
from .prompting import Prior, branch_messages, repair_messages
from .recipe import AGGREGATE_ID, Branch, CallSettings, Recipe, expand

TargetResolver = Callable[[CallSettings], Target]


def strategy_edges(recipe: Recipe, strategy: str) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(what each branch waits for, what each branch is shown) under a strategy."""
    ids = [b.id for b in recipe.branches]
    after = {b.id: b.after for b in recipe.branches}
    if strategy == "parallel":
        none = {bid: () for bid in ids}
        return none, none
    if strategy == "sequential":
        order = topological_order(ids, after)
        waits = {bid: (order[i - 1],) if i else () for i, bid in enumerate(order)}
        sees = {bid: tuple(order[:i]) for i, bid in enumerate(order)}
        return waits, sees
    return after, after


@dataclass
class RunSpec:
    recipe: Recipe
    values: dict[str, str]
    strategy: str
    resolve: TargetResolver
    provider_label: str = ""
    model_label: str = ""
    on_error: str | None = None
    session_id: str = field(default_factory=lambda: RunSpec.new_id())
    source: ResponseSource | None = None
    seed: int | None = None  # for the backoff jitter; tests fix it

    @staticmethod
    def new_id() -> str:
        return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


class Engine:
    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.recipe = expand(spec.recipe, spec.values)
        # A sequential step is shown every earlier one: look branches up by id, not by scanning the recipe.
        self._branches = {b.id: b for b in self.recipe.branches}
        self.strategy = spec.strategy
        self.on_error = spec.on_error or spec.recipe.on_error
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._tasks: dict[str, asyncio.Task[CallResult]] = {}
        self._cancelled = False
        self._failfast = False
        self._active: set[str] = set()  # branches past their dependencies
        self._answers: dict[str, dict] = {}  # what each branch's text says (label, JSON), for the aggregate
        self._t0 = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.waits, self.sees = strategy_edges(self.recipe, self.strategy)

    # --- control from a front end --------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop every branch; the run still ends with its events (cancelled) and a RunDone."""
        self._cancelled = True
        for task in self._tasks.values():
            task.cancel()

    def cancel_branch(self, branch_id: str) -> None:
        if branch_id.startswith(AGGREGATE_ID + "."):  # a reduce step is part of the aggregate: that stops
            branch_id = AGGREGATE_ID
        task = self._tasks.get(branch_id)
        if task is not None and not task.done():
            task.cancel()

    # --- the stream --------------------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        runner = asyncio.create_task(self._run())
        try:
            while True:
                event = await self._queue.get()
                yield event
                if isinstance(event, RunDone):
                    break
        finally:
            if not runner.done():
                self.cancel()
            await runner

    def clock(self) -> float:
        assert self._loop is not None
        return self._loop.time() - self._t0

    def emit(self, event: Event) -> None:
        self._queue.put_nowait(event)

    async def _run(self) -> None:
        """Whatever happens inside, the stream ends with a RunDone: a consumer never waits forever."""
        try:
            await self._run_inner()
        except Exception as err:  # noqa: BLE001
            self.emit(RunDone(self.clock(), "failed", error=f"internal error: {type(err).__name__}: {err}"))

    async def _run_inner(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()
        spec, recipe = self.spec, self.recipe
        rng = random.Random(spec.seed)
        caller = Caller(self.emit, self.clock, source=spec.source, rng=rng)
        try:
            targets = {b.id: spec.resolve(b.settings) for b in recipe.branches}
        except Exception as err:  # noqa: BLE001 - reported as the run's failure, never a hang
            self.emit(RunStarted(0.0, spec.session_id, recipe.name, self.strategy, spec.provider_label,
                                 spec.model_label, spec.values, (), recipe.aggregate.kind, time.time()))
            self.emit(RunDone(self.clock(), "failed", error=str(err)))
            return
        self.emit(
            RunStarted(
                0.0,
                spec.session_id,
                recipe.name,
                self.strategy,
                spec.provider_label,
                spec.model_label,
                dict(spec.values),
                tuple(
                    BranchInfo(b.id, b.title, self.waits[b.id], targets[b.id].provider.name, targets[b.id].model,
                               b.group)
                    for b in recipe.branches
                ),
                recipe.aggregate.kind,
                time.time(),
            )
        )
        results: dict[str, CallResult] = {}
        finished = {b.id: asyncio.Event() for b in recipe.branches}

        async def run_branch(branch: Branch) -> None:
            try:
                result = await self._branch(branch, targets[branch.id], results, finished, caller)
            except asyncio.CancelledError:
                result = CallResult("", BranchMetrics(), error="cancelled", cancelled=True)
                self.emit(BranchFailed(self.clock(), branch.id, "cancelled", cancelled=True))
            except Exception as err:  # noqa: BLE001 - a bug below must fail one branch, not hang the run
                error = f"internal error: {type(err).__name__}: {err}"
                result = CallResult("", BranchMetrics(), error=error)
                self.emit(BranchFailed(self.clock(), branch.id, error))
            results[branch.id] = result
            finished[branch.id].set()

        for branch in recipe.branches:
            self._tasks[branch.id] = asyncio.create_task(run_branch(branch))
        await asyncio.gather(*self._tasks.values())

        failed = [bid for bid, r in results.items() if not r.ok]
        agg_metrics = None
        agg_error = ""
        steps: dict[str, BranchMetrics] = {}  # the aggregate's reduce steps
        step_deps: dict[str, tuple[str, ...]] = {}
        if self._cancelled:
            status = "cancelled"
        elif self._failfast:
            status = "failed"
        else:
            priors = [self._prior(b.id, results) for b in recipe.branches]
            task = asyncio.create_task(
                aggregate(recipe, spec.values, self.strategy, priors, caller, spec.resolve, self.emit,
                          self.clock)
            )
            self._tasks[AGGREGATE_ID] = task
            try:
                outcome = await task
                agg_metrics, agg_error = outcome.metrics, outcome.error
                steps, step_deps = outcome.steps, outcome.step_deps
            except asyncio.CancelledError:
                agg_error = "cancelled"
            except Exception as err:  # noqa: BLE001 - reported as the aggregate's failure, with the metrics
                agg_error = f"internal error in the aggregate: {type(err).__name__}: {err}"
            if self._cancelled:
                status = "cancelled"
            elif agg_error or len(failed) == len(results):
                status = "failed"
            else:
                status = "partial" if failed else "ok"
        metrics = run_metrics(
            self.clock(),
            {**{bid: r.metrics for bid, r in results.items()}, **steps},
            {**self.waits, **step_deps},
            agg_metrics,
            calls=caller.calls,
            failed=len(failed),
        )
        self.emit(RunDone(self.clock(), status, metrics, error=agg_error))

    async def _branch(
        self,
        branch: Branch,
        target: Target,
        results: dict[str, CallResult],
        finished: dict[str, asyncio.Event],
        caller: Caller,
    ) -> CallResult:
        for dep in self.waits[branch.id]:
            await finished[dep].wait()
        if self._failfast:
            error = "skipped: an earlier branch failed"
            self.emit(BranchFailed(self.clock(), branch.id, error, skipped=True))
            return CallResult("", BranchMetrics(), error=error)
        self._active.add(branch.id)
        self.emit(BranchQueued(self.clock(), branch.id))
        priors = [self._prior(d, results) for d in self.sees[branch.id]]
        messages = branch_messages(self.recipe, branch, self.spec.values, self.strategy, priors)
        on_token = lambda text: self.emit(BranchToken(self.clock(), branch.id, text))  # noqa: E731
        result = await caller.call(branch.id, target, target.request(messages, branch.sample), on_token)
        answer: dict = {}
        if result.ok and (branch.labels or branch.json_field or branch.schema):
            answer = read_answer(result.text, branch.labels, branch.json_field, branch.schema)
            if "json_error" in answer:
                result, answer = await self._repair(branch, target, messages, result, answer, caller, on_token)
        self._answers[branch.id] = answer
        if result.ok:
            self.emit(BranchDone(self.clock(), branch.id, result.text, result.metrics, result.finish_reason, answer))
        else:
            self.emit(BranchFailed(self.clock(), branch.id, result.error, result.metrics))
            if self.on_error == "fail":
                self._fail_fast(branch.id)
        return result

    async def _repair(self, branch, target, messages, first: CallResult, answer: dict, caller, on_token):
        """Invalid JSON from a schema branch: ask once more, showing it its answer and the error; if the second
        answer is no better, the branch is done but flagged, never silently taken as data."""
        error = answer["json_error"]
        self.emit(BranchRetrying(self.clock(), branch.id, 1, 0.0, f"the answer was not valid JSON ({error}): "
                                 "asking once more", restart=True))
        request = target.request(repair_messages(messages, first.text, error, branch), branch.sample)
        second = await caller.call(branch.id, target, request, on_token)
        if not second.ok:
            return second, {}
        m1, m2 = first.metrics, second.metrics
        metrics = replace(
            m2,
            ttft=m1.ttft,
            latency=m1.latency + m2.latency,
            input_tokens=m1.input_tokens + m2.input_tokens,
            output_tokens=m1.output_tokens + m2.output_tokens,
            retries=m1.retries + m2.retries + 1,
            cost=total_cost((m1, m2)),
        )
        answer = read_answer(second.text, branch.labels, branch.json_field, branch.schema)
        answer["repaired"] = True
        if "json_error" in answer:
            answer["flagged"] = f"invalid JSON after one repair: {answer['json_error']}"
        return CallResult(second.text, metrics, second.finish_reason), answer

    def _prior(self, branch_id: str, results: dict[str, CallResult]) -> Prior:
        branch = self._branches[branch_id]
        result = results.get(branch_id)
        if result is None:
            return Prior(branch.id, branch.title, "", error="did not run")
        return Prior(
            branch.id,
            branch.title,
            result.text if result.ok else "",
            "" if result.ok else result.error,
            self._answers.get(branch_id, {}),
        )

    def _fail_fast(self, failed_id: str) -> None:
        """on_error = "fail": one failed branch stops the run. Branches under way are cancelled; those still waiting
        on dependencies wake up, see the flag and are skipped."""
        self._failfast = True
        for bid, task in self._tasks.items():
            if bid != failed_id and bid in self._active and not task.done():
                task.cancel()
