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
from fractions import Fraction
from typing import AsyncIterator, Callable

from . import aggregators
from .batching import Batcher, BatchSpec
from .budget import Budget, usd, worst_case_prompt_tokens
from .calls import Caller, CallResult, ResponseSource, Target
from .citations import Retrieve, given_numbers
from .dag import topological_order
from .events import (
    PlanDone,
    PlanStarted,
    BranchFailed,
    BranchInfo,
    BranchMetrics,
    BranchQueued,
    BranchRetrying,
    BranchSources,
    BranchToken,
    BranchDone,
    Event,
    RunDone,
    RunResumed,
    RunStarted,
    WavesDone,
)
from .metrics import run_metrics, two_attempts
from .answers import read_answer
from .echoes import MarkerScrubber
from .prompting import Fence, Given, Prior, branch_messages, repair_messages, retrieval_query
from .structured import json_schema_for
from .plan import PlanError, planned_branches
from .planner import PlanCall, PlanOutcome, first_plan, follow_up_plan, make_plan
from .recipe import AGGREGATE_ID, STRATEGIES, Branch, CallSettings, Recipe, expand, planner_id
from .recipe.model import Strategy

TargetResolver = Callable[[CallSettings], Target]


def strategy_edges(recipe: Recipe, strategy: Strategy) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(what each branch waits for, what each branch is shown) under a strategy."""
    ids = [b.id for b in recipe.branches]
    after = {b.id: b.after for b in recipe.branches}
    match strategy:
        case Strategy.PARALLEL:
            none: dict[str, tuple[str, ...]] = {bid: () for bid in ids}
            return none, none
        case Strategy.SEQUENTIAL:
            order = topological_order(ids, after)
            waits = {bid: (order[i - 1],) if i else () for i, bid in enumerate(order)}
            sees = {bid: tuple(order[:i]) for i, bid in enumerate(order)}
            return waits, sees
        case Strategy.HYBRID:
            return after, after
    raise ValueError(f"unknown strategy {strategy!r}: one of {', '.join(Strategy)}")


@dataclass
class _Aggregated:
    """What the aggregate step left: its own call's metrics and error, and its reduce steps."""

    metrics: BranchMetrics | None = None
    error: str = ""
    steps: dict[str, BranchMetrics] = field(default_factory=dict)
    step_deps: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class RunSpec:
    recipe: Recipe
    values: dict[str, str]
    strategy: Strategy
    resolve: TargetResolver
    provider_label: str = ""
    model_label: str = ""
    on_error: str | None = None
    session_id: str = field(default_factory=lambda: RunSpec.new_id())
    source: ResponseSource | None = None
    seed: int | None = None  # for the backoff jitter; tests fix it
    plan: PlanOutcome | None = None  # compare / bench: a plan made once, given to every strategy
    plan_only: bool = False  # compare / bench: make the plan, run nothing else
    # Resuming a session: the branches that finished there, taken as they were; the run's clock goes on from
    # where the session's stopped; and what the session's status was.
    kept: dict[str, BranchDone] = field(default_factory=dict)
    clock_offset: float = 0.0
    resumed_from: str = ""
    budget: Budget | None = None  # the ledger every call reserves from (shared by a bench's runs)
    batch: BatchSpec | None = None  # provider batches: which steps go in them, and where
    # Sources: each branch's call may search the web (at most this many searches; 0: no search), and each branch
    # is given the `top_k` passages of the user's files that `retrieve` finds for it (None: no files).
    web_search: int = 0
    retrieve: Retrieve | None = None
    top_k: int = 6
    # ...and the follow-up planners' answers it kept, by wave: read again, not asked again.
    kept_follow_ups: dict[int, tuple[str, BranchMetrics]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:  # a caller's mistake, never quietly run as some other strategy
            raise ValueError(f"unknown strategy {self.strategy!r}: one of {', '.join(STRATEGIES)}")
        self.strategy = Strategy(self.strategy)

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
        self._results: dict[str, CallResult] = {}
        self._finished: dict[str, asyncio.Event] = {}
        self._start_branch: Callable[[Branch], None] | None = None  # set while branches may still be retried
        self._retried: dict[str, BranchMetrics] = {}  # the failed try's metrics of a branch retried by hand
        self._batcher: Batcher | None = None
        self._given: dict[str, tuple[Given, ...]] = {}  # the passages of the user's files each branch is given
        self._follow_ups: dict[str, BranchMetrics] = {}  # each follow-up planner's call, by its lane
        # What a wave's planning made wait, besides the strategy's edges: a follow-up planner every branch before
        # it, a later wave's branch its planner.
        self._wave_deps: dict[str, tuple[str, ...]] = {}

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

    def retry_branch(self, branch_id: str) -> str:
        """Run one failed branch again while the run goes on; branches that wait for it and have not started yet
        wait for the new attempt. Returns "" when queued, else why not."""
        branch = self._branches.get(branch_id)
        result = self._results.get(branch_id)
        if branch is None:
            return f"no branch {branch_id!r}"
        if self._start_branch is None or self._cancelled:
            return "the run is over (or its aggregate has begun): run it again instead"
        if self._failfast:
            return 'on_error = "fail" stopped the run at the first failure'
        if result is None or not self._finished[branch_id].is_set():
            return f"{branch_id} has not finished"
        if result.ok:
            return f"{branch_id} did not fail"
        self._finished[branch_id].clear()
        del self._results[branch_id]
        self._retried[branch_id] = result.metrics
        self.emit(BranchRetrying(self.clock(), branch_id, 0, 0.0, "retried by hand", restart=True))
        self._start_branch(branch)
        return ""

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
        return self._loop.time() - self._t0 + self.spec.clock_offset

    def emit(self, event: Event) -> None:
        self._queue.put_nowait(event)

    async def _run(self) -> None:
        """Whatever happens inside, the stream ends with a RunDone: a consumer never waits forever."""
        try:
            await self._run_inner()
        except Exception as err:  # noqa: BLE001
            self.emit(RunDone(self.clock(), "failed", error=f"internal error: {type(err).__name__}: {err}"))
        finally:
            if self._batcher is not None:
                self._batcher.close()

    async def _run_inner(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()
        spec = self.spec
        caller = Caller(self.emit, self.clock, source=spec.source, rng=random.Random(spec.seed), budget=spec.budget)
        if spec.resumed_from:
            kept = tuple(spec.kept)  # planned branches too: their ids are known only once the plan is
            self.emit(RunResumed(self.clock(), spec.resumed_from, kept, time.time()))
        targets = self._start()
        if targets is None:
            return
        plan_metrics: BranchMetrics | None = None
        if self.recipe.plan is not None:
            go_on, plan_metrics = await self._planned(caller, targets)
            if not go_on:
                return
            if spec.plan_only:
                metrics = run_metrics(self.clock(), {}, {}, None, calls=caller.calls, failed=0, plan=plan_metrics)
                self.emit(RunDone(self.clock(), "ok", metrics))
                return
        await self._retrieve(self.recipe.branches)
        await self._run_branches(caller, targets, self.recipe.branches)
        await self._waves(caller, targets)
        failed = [bid for bid, r in self._results.items() if not r.ok]
        stopped = self._cancelled or self._failfast or self._over_budget()
        aggregated = _Aggregated() if stopped else await self._aggregate(caller)
        self._finish(caller, self._status(failed, aggregated), aggregated, plan_metrics, failed=len(failed))

    def _start(self) -> dict[str, Target] | None:
        """Resolves every branch's provider and announces the run; None when that failed (the run is over)."""
        spec, recipe = self.spec, self.recipe
        try:
            targets = {b.id: spec.resolve(b.settings) for b in recipe.branches}
        except Exception as err:  # noqa: BLE001 - reported as the run's failure, never a hang
            self.emit(self._started(()))
            self.emit(RunDone(self.clock(), "failed", error=str(err)))
            return None
        self.emit(self._started(self._infos(recipe.branches, targets)))
        return targets

    def _started(self, infos: tuple[BranchInfo, ...]) -> RunStarted:
        spec, recipe = self.spec, self.recipe
        return RunStarted(self.clock(), spec.session_id, recipe.name, self.strategy, spec.provider_label,
                          spec.model_label, dict(spec.values), infos, recipe.aggregate.kind, time.time())

    async def _planned(self, caller: Caller, targets: dict[str, Target]) -> tuple[bool, BranchMetrics | None]:
        """The planner's call and the branches it decides, added to the run. Returns whether the run goes on, and
        what the plan counts for in this run (None when it was made once, for a comparison)."""
        spec, recipe = self.spec, self.recipe
        assert recipe.plan is not None
        # compare / bench hand every strategy a plan made once (shown, not counted again); a resumed session hands
        # back its own plan, which is this run's and counted like every branch kept from it.
        reused = spec.plan is not None and not spec.resumed_from
        outcome = await self._plan(caller)
        if outcome is None or outcome.plan is None:
            error = "cancelled while planning" if outcome is None else outcome.error
            metrics = run_metrics(self.clock(), {}, {}, None, calls=caller.calls, failed=0,
                                  plan=outcome.metrics if outcome and not reused else None)
            status = "cancelled" if self._cancelled else "budget" if self._over_budget() else "failed"
            self.emit(RunDone(self.clock(), status, metrics, error=error))
            return False, None
        planned = planned_branches(outcome.plan, recipe.plan)
        if error := self._take_planned(planned, targets):
            self.emit(PlanDone(self.clock(), outcome.text, (), outcome.plan.warnings, outcome.metrics,
                               error=error, reused=reused))
            self.emit(RunDone(self.clock(), "failed", error=error))
            return False, None
        self.emit(PlanDone(self.clock(), outcome.text, self._infos(planned, targets), outcome.plan.warnings,
                           outcome.metrics, reused=reused))
        # A reused plan was paid for once, by whoever made it: it is shown, not counted again.
        return True, None if reused else outcome.metrics

    async def _retrieve(self, branches: tuple[Branch, ...]) -> None:
        """The passages of the user's files each of a wave's `branches` is given, found for its title, brief and
        prompt before any of them runs, so that every prompt shows them under the run's own numbers."""
        spec = self.spec
        if spec.retrieve is None:
            return
        found = []
        for b in branches:
            if b.search:
                query = retrieval_query(b, spec.values)
                found.append((b.id, query, tuple(await asyncio.to_thread(spec.retrieve, query, spec.top_k))))
        # Earlier waves' files keep their numbers (their branches cited them as written); a new file takes the next
        earlier = [(bid, tuple(g.passage for g in given)) for bid, given in self._given.items()]
        numbers = given_numbers(earlier + [(bid, passages) for bid, _, passages in found])
        for bid, query, passages in found:
            self._given[bid] = tuple(Given(numbers[p.path], p) for p in passages)
            self.emit(BranchSources(self.clock(), bid, query, tuple(p.source() for p in passages)))

    def _take_planned(self, planned: tuple[Branch, ...], targets: dict[str, Target]) -> str:
        """Planned branches join the run (their providers resolved, the strategy's edges drawn again); returns
        why they could not ("" when they did)."""
        try:
            targets.update({b.id: self.spec.resolve(b.settings) for b in planned})
        except Exception as err:  # noqa: BLE001 - reported, never a hang
            return str(err)
        self.recipe = replace(self.recipe, branches=self.recipe.branches + planned)
        self._branches.update({b.id: b for b in planned})
        self.waits, self.sees = strategy_edges(self.recipe, self.strategy)
        return ""

    async def _run_branches(self, caller: Caller, targets: dict[str, Target], branches: tuple[Branch, ...]) -> None:
        """`branches` (a wave), each as its own task starting once what it waits for is done; returns when none is
        left running (a branch retried by hand adds a task while we wait)."""
        results, finished = self._results, self._finished
        finished.update({b.id: asyncio.Event() for b in branches})

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
            if self._batcher is not None:  # its batch need not wait for it any longer
                self._batcher.leave(branch.id)

        def start(branch: Branch) -> None:
            self._tasks[branch.id] = asyncio.create_task(run_branch(branch))

        self._start_branch = start
        if self.spec.batch is not None and self._batcher is None:  # the first wave: what the batch spec covers
            self._batcher = Batcher(self.spec.batch, self.emit, self.clock)
            targets = self._batcher.wrap(branches, self.waits, targets)
        for branch in branches:
            start(branch)
        while pending := [t for t in self._tasks.values() if not t.done()]:
            await asyncio.wait(pending)
        self._start_branch = None

    # --- waves: after each, a follow-up planner may plan the next ---------------------------------------------------

    async def _waves(self, caller: Caller, targets: dict[str, Target]) -> None:
        """A planned run deeper than one wave: after each wave a follow-up planner is shown what it found and plans
        the next, until the depth, an answer of no new angles ("covered"), a plan it cannot use, or the run stops.
        A wave that cannot be planned never takes the waves before it along: they go on to the aggregate."""
        plan = self.recipe.plan
        if plan is None or plan.depth <= 1:
            return
        waves = 1
        while not (reason := self._no_next_wave(waves, plan.depth)):
            planned, reason = await self._next_wave(caller, targets, waves + 1)
            if not planned:
                break
            waves += 1
            await self._retrieve(planned)
            await self._run_branches(caller, targets, planned)
        self.emit(WavesDone(self.clock(), waves, reason))

    def _no_next_wave(self, done: int, depth: int) -> str:
        """Why no wave follows wave `done` ("" when one may be planned)."""
        if self._cancelled:
            return "the run was cancelled"
        if self._failfast:
            return 'on_error = "fail" stopped the run at the first failure'
        if done >= depth:
            return f"depth {depth} reached"
        last = [self._results.get(b.id) for b in self.recipe.branches if b.wave == done]
        if not any(r is not None and r.ok for r in last):
            return f"every branch of wave {done} failed: nothing to follow up"
        return ""

    def _wave_over_budget(self, wave: int, call: PlanCall) -> str:
        """Why wave `wave` does not fit in what is left of the run's budget ("" when it does, or there is none).
        Its worst case: the follow-up planner's call, and `follow_ups` branches each sent a prompt as long as the
        planner's (which holds every report of the wave before) and answering max_tokens."""
        budget, spec = self.spec.budget, self.recipe.plan
        if budget is None or spec is None:
            return ""
        prompt = worst_case_prompt_tokens(call.messages)
        planner, branch = self._planner_target(), self.spec.resolve(spec.branch_settings)
        costs = [planner.cost(planner.model, prompt, planner.max_tokens),
                 branch.cost(branch.model, prompt, branch.max_tokens)]
        if None in costs:  # an unknown price: the call itself is refused by the ledger, saying so
            return ""
        need = Fraction(costs[0]) + spec.follow_ups * Fraction(costs[1])
        left = budget.cap - budget.spent - budget.reserved
        if need <= left:
            return ""
        return (f"the budget: wave {wave} could cost up to {usd(need)} ({spec.follow_ups} follow-up branches and "
                f"their planner), and {usd(left)} of {usd(budget.limit)} is left")

    async def _next_wave(self, caller: Caller, targets: dict[str, Target], wave: int) -> tuple[tuple[Branch, ...], str]:
        """Wave `wave`'s follow-up planner, and the branches it decides, added to the run; () and why not when
        it decides none."""
        spec = self.recipe.plan
        assert spec is not None
        findings = [self._prior(b.id, self._results) for b in self.recipe.branches if b.wave == wave - 1]
        # BranchDone carries no sources yet: once branches search the web, each report's go here.
        call = follow_up_plan(self.recipe, self.spec.values, wave, findings, sources={})
        if why := self._wave_over_budget(wave, call):  # not planned at all: no planner's pane, no call
            return (), why
        lane = planner_id(wave)
        self._wave_deps[lane] = tuple(b.id for b in self.recipe.branches)
        self.emit(PlanStarted(self.clock(), 0, spec.follow_ups, wave=wave))
        outcome = self._kept_follow_up(wave, call) or await self._ask_planner(call, caller)
        if outcome is None:
            self.emit(BranchFailed(self.clock(), lane, "cancelled", cancelled=True))
            self.emit(PlanDone(self.clock(), "", error=f"{call.who} was cancelled", wave=wave))
            return (), "the run was cancelled"
        self._follow_ups[lane] = outcome.metrics
        plan = outcome.plan
        if plan is None:
            self.emit(PlanDone(self.clock(), outcome.text, metrics=outcome.metrics, error=outcome.error, wave=wave))
            return (), f"{call.who} gave no usable plan: the waves end at wave {wave - 1}"
        planned = planned_branches(plan, spec, wave)
        error = self._take_planned(planned, targets) if planned else ""
        infos = self._infos(planned, targets) if planned and not error else ()
        self.emit(PlanDone(self.clock(), outcome.text, infos, plan.warnings, outcome.metrics, error=error, wave=wave))
        if error:
            return (), f"wave {wave}'s branches could not start: {error}"
        if not planned:
            return (), f"covered: {call.who} found no new angle to research"
        self._wave_deps.update({b.id: (lane,) for b in planned})
        return planned, ""

    def _kept_follow_up(self, wave: int, call: PlanCall) -> PlanOutcome | None:
        """Resuming: the follow-up plan the session made for `wave`, read again; None when there is none (or the
        recipe no longer accepts it), and the planner is asked."""
        kept = self.spec.kept_follow_ups.get(wave)
        if kept is None:
            return None
        text, metrics = kept
        try:
            return PlanOutcome(call.parse(text), text, metrics)
        except PlanError:
            return None

    async def _aggregate(self, caller: Caller) -> _Aggregated:
        """The aggregate over every branch's result, as a task a front end can cancel."""
        spec, results = self.spec, self._results
        priors = [self._prior(b.id, results) for b in self.recipe.branches]
        task = asyncio.create_task(
            aggregators.run(self.recipe, spec.values, self.strategy, priors, caller, spec.resolve, self.emit,
                            self.clock)
        )
        self._tasks[AGGREGATE_ID] = task
        try:
            outcome = await task
        except asyncio.CancelledError:
            return _Aggregated(error="cancelled")
        except Exception as err:  # noqa: BLE001 - reported as the aggregate's failure, with the metrics
            return _Aggregated(error=f"internal error in the aggregate: {type(err).__name__}: {err}")
        return _Aggregated(outcome.metrics, outcome.error, outcome.steps, outcome.step_deps)

    def _over_budget(self) -> bool:
        return self.spec.budget is not None and bool(self.spec.budget.stopped)

    def _status(self, failed: list[str], aggregated: _Aggregated) -> str:
        if self._cancelled:
            return "cancelled"
        if self._over_budget():
            return "budget"
        if self._failfast or aggregated.error or len(failed) == len(self._results):
            return "failed"
        return "partial" if failed else "ok"

    def _finish(self, caller: Caller, status: str, aggregated: _Aggregated, plan: BranchMetrics | None, *,
                failed: int) -> None:
        deps = {**self.waits, **aggregated.step_deps}
        for bid, more in self._wave_deps.items():
            deps[bid] = tuple(deps.get(bid, ())) + more
        metrics = run_metrics(
            self.clock(),
            {**{bid: r.metrics for bid, r in self._results.items()}, **aggregated.steps},
            deps,
            aggregated.metrics,
            calls=caller.calls,
            failed=failed,
            plan=plan,
            follow_ups=self._follow_ups,
        )
        # An unreachable provider is the run's one message: every branch failed for that single reason.
        error = "; ".join(e for e in dict.fromkeys([*caller.health.reasons, aggregated.error]) if e)
        if status == "budget":
            error = self._budget_message()
        self.emit(RunDone(self.clock(), status, metrics, error=error))

    def _budget_message(self) -> str:
        budget = self.spec.budget
        assert budget is not None
        left = sum(1 for r in self._results.values() if r.over_budget)
        return (f"{budget.stopped}; not run: {left} branch{'es' if left != 1 else ''} and the aggregate "
                f"(`fanout resume {self.spec.session_id} --budget USD` runs them)")

    def _infos(self, branches, targets: dict[str, Target]) -> tuple[BranchInfo, ...]:
        return tuple(
            BranchInfo(b.id, b.title, self.waits[b.id], targets[b.id].provider.name, targets[b.id].model, b.group,
                       wave=b.wave)
            for b in branches
        )

    async def _plan(self, caller: Caller) -> PlanOutcome | None:
        """The planner's call (or the plan given in advance); None when the run was cancelled meanwhile."""
        spec, plan = self.spec, self.recipe.plan
        assert plan is not None
        given = spec.plan
        self.emit(PlanStarted(self.clock(), plan.min_branches, plan.max_branches, reused=given is not None and not spec.resumed_from))
        if given is not None:
            return given
        outcome = await self._ask_planner(first_plan(self.recipe, spec.values), caller)
        if outcome is None:
            self.emit(BranchFailed(self.clock(), planner_id(1), "cancelled", cancelled=True))
            self.emit(PlanDone(self.clock(), "", error="the planner was cancelled"))
            return None
        if outcome.plan is None:
            self.emit(PlanDone(self.clock(), outcome.text, metrics=outcome.metrics, error=outcome.error))
        return outcome

    def _planner_target(self) -> Target:
        """Where a planner's call goes. --max-tokens bounds the answers; a plan cut short is no plan, so the
        planner keeps its own max_tokens."""
        plan = self.recipe.plan
        assert plan is not None
        target = self.spec.resolve(plan.settings)
        if plan.settings.max_tokens and target.max_tokens < plan.settings.max_tokens:
            target = replace(target, max_tokens=plan.settings.max_tokens)
        return target

    async def _ask_planner(self, call: PlanCall, caller: Caller) -> PlanOutcome | None:
        """A planner's call, as a task a front end can cancel; None when it was cancelled."""
        plan = self.recipe.plan
        assert plan is not None
        try:
            target = self._planner_target()
        except Exception as err:  # noqa: BLE001 - reported as the plan's failure, never a hang
            return PlanOutcome(None, "", BranchMetrics(), error=f"{call.who}: {err}")
        task = asyncio.create_task(make_plan(call, target, caller, self.emit, self.clock))
        self._tasks[call.lane] = task
        try:
            return await task
        except asyncio.CancelledError:
            return None
        finally:
            del self._tasks[call.lane]

    async def _branch(
        self,
        branch: Branch,
        target: Target,
        results: dict[str, CallResult],
        finished: dict[str, asyncio.Event],
        caller: Caller,
    ) -> CallResult:
        kept = self.spec.kept.get(branch.id)
        if kept is not None:  # resumed: finished in the session, taken as it was, never asked again
            self._answers[branch.id] = dict(kept.result)
            self.emit(replace(kept, t=self.clock(), kept=True))
            return CallResult(kept.text, kept.metrics, kept.finish_reason, sources=kept.sources,
                              citations=kept.citations)
        # Until every dependency is done at once: one retried by hand while we waited on another is running again.
        while not all(finished[dep].is_set() for dep in self.waits[branch.id]):
            for dep in self.waits[branch.id]:
                await finished[dep].wait()
        if self._failfast:
            error = "skipped: an earlier branch failed"
            self.emit(BranchFailed(self.clock(), branch.id, error, skipped=True))
            return CallResult("", BranchMetrics(), error=error)
        if self._over_budget():
            return self._not_run(branch.id)
        self._active.add(branch.id)
        self.emit(BranchQueued(self.clock(), branch.id))
        priors = [self._prior(d, results) for d in self.sees[branch.id]]
        given = self._given.get(branch.id, ())
        messages = branch_messages(self.recipe, branch, self.spec.values, self.strategy, priors, given)
        # A step shown earlier steps (or passages) inside fences may echo the markers: they never reach its text.
        scrubber = MarkerScrubber(Fence.around(priors, given).nonce)

        def on_token(text: str) -> None:
            if text := scrubber.feed(text):
                self.emit(BranchToken(self.clock(), branch.id, text))

        web = self.spec.web_search if branch.search else 0
        request = target.request(messages, branch.sample, json_schema_for(branch.schema), web, grounded=tuple(g.n for g in given))
        result = await caller.call(branch.id, target, request, on_token)
        if result.over_budget:
            return self._not_run(branch.id)
        if rest := scrubber.flush():
            self.emit(BranchToken(self.clock(), branch.id, rest))
        result = replace(result, text=scrubber.scrub(result.text))
        answer: dict = {}
        if result.ok and (branch.labels or branch.json_field or branch.schema):
            answer = read_answer(result.text, branch.labels, branch.json_field, branch.schema)
            if "json_error" in answer:
                result, answer = await self._repair(branch, target, messages, result, answer, caller, on_token)
                if rest := scrubber.flush():
                    self.emit(BranchToken(self.clock(), branch.id, rest))
                result = replace(result, text=scrubber.scrub(result.text))
        self._answers[branch.id] = answer
        earlier = self._retried.pop(branch.id, None)
        if earlier is not None:  # retried by hand: the failed try's waits and throttles still happened
            m = result.metrics
            result.metrics = replace(m, retries=m.retries + earlier.retries + 1,
                                     throttles=m.throttles + earlier.throttles, backoff=m.backoff + earlier.backoff)
        if result.ok:
            self.emit(BranchDone(self.clock(), branch.id, result.text, result.metrics, result.finish_reason, answer,
                                 sources=result.sources, citations=result.citations))
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
        messages = repair_messages(messages, first.text, f"That answer was not valid JSON ({error})", branch.schema)
        second = await caller.call(branch.id, target, target.request(messages, branch.sample,
                                                                     json_schema_for(branch.schema)), on_token)
        if not second.ok:
            return second, {}
        metrics = two_attempts(first.metrics, second.metrics)
        answer = read_answer(second.text, branch.labels, branch.json_field, branch.schema)
        answer["repaired"] = True
        if "json_error" in answer:
            answer["flagged"] = f"invalid JSON after one repair: {answer['json_error']}"
        # The first answer's pages were read; its citations pointed into its own text, which is gone.
        return CallResult(second.text, metrics, second.finish_reason, sources=first.sources), answer

    def _not_run(self, branch_id: str) -> CallResult:
        """The budget stopped the run before this branch's call: it did not run (a resume runs it)."""
        assert self.spec.budget is not None
        error = f"not run: {self.spec.budget.stopped}"
        self.emit(BranchFailed(self.clock(), branch_id, error, skipped=True))
        return CallResult("", BranchMetrics(), error=error, over_budget=True)

    def _prior(self, branch_id: str, results: dict[str, CallResult]) -> Prior:
        branch = self._branches[branch_id]
        result = results.get(branch_id)
        given = tuple(g.passage.source() for g in self._given.get(branch_id, ()))
        if result is None:
            return Prior(branch.id, branch.title, "", error="did not run", given=given)
        return Prior(
            branch.id,
            branch.title,
            result.text if result.ok else "",
            "" if result.ok else result.error,
            self._answers.get(branch_id, {}),
            given,
            result.sources if result.ok else (),
            result.citations if result.ok else (),
        )

    def _fail_fast(self, failed_id: str) -> None:
        """on_error = "fail": one failed branch stops the run. Branches under way are cancelled; those still waiting
        on dependencies wake up, see the flag and are skipped."""
        self._failfast = True
        for bid, task in self._tasks.items():
            if bid != failed_id and bid in self._active and not task.done():
                task.cancel()
