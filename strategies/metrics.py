"""A run's totals from its branches' metrics: wall time against the sum and the critical path."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping, Sequence

from .dag import longest_path
from .events import BranchMetrics, RunMetrics, total_cost
from .recipe import AGGREGATE_ID, PLAN_ID


def run_metrics(
    wall: float,
    branches: Mapping[str, BranchMetrics],
    deps: Mapping[str, Sequence[str]],
    aggregate: BranchMetrics | None,
    *,
    calls: int,
    failed: int,
    plan: BranchMetrics | None = None,
    follow_ups: Mapping[str, BranchMetrics] | None = None,
) -> RunMetrics:
    """`deps` are the dependencies the strategy actually enforced (a chain for sequential, none for parallel):
    the critical path is what the run would take with no overhead and no waiting for a free slot. A planner's
    call (`plan`) comes before every branch; a follow-up planner's (`follow_ups`, by id: later waves) comes
    where `deps` puts it, after the waves before it and before its own."""
    all_metrics = {**branches, **(follow_ups or {})}
    weights = {bid: m.latency for bid, m in all_metrics.items()}
    graph = {bid: tuple(d for d in deps.get(bid, ()) if d in weights) for bid in weights}
    if plan is not None:
        graph = {bid: ds + (PLAN_ID,) for bid, ds in graph.items()}
        all_metrics[PLAN_ID] = plan
        weights[PLAN_ID] = plan.latency
        graph[PLAN_ID] = ()
    if aggregate is not None:
        all_metrics[AGGREGATE_ID] = aggregate
        weights[AGGREGATE_ID] = aggregate.latency
        graph[AGGREGATE_ID] = tuple(branches) or ((PLAN_ID,) if plan is not None else ())
    critical, chain = longest_path(list(graph), graph, weights)
    values = all_metrics.values()
    total = calls_sum(values)
    cached = [m for m in values if m.cached]
    measured = measurable(len(cached), every_branch_failed=bool(branches) and failed == len(branches))
    return RunMetrics(
        wall=wall,
        calls_sum=total,
        concurrency=concurrency(total, wall) if measured else None,
        critical_path=critical if measured else None,
        critical_path_ids=tuple(chain) if measured else (),
        input_tokens=sum(m.input_tokens for m in values),
        output_tokens=sum(m.output_tokens for m in values),
        tokens_estimated=any(m.tokens_estimated for m in values),
        cost=total_cost(values),
        calls=calls,
        retries=sum(m.retries for m in values),
        throttles=sum(m.throttles for m in values),
        cached=len(cached),
        cached_latency=sum(m.cached_latency or 0.0 for m in cached),
        saved_tokens=sum(m.saved_tokens for m in values),
        failed=failed,
        searches=sum(m.searches for m in values),
    )


# The one definition of the run's figures, used by the engine's RunMetrics and by the app's live totals alike.


def calls_sum(metrics: Iterable[BranchMetrics]) -> float:
    """The sum of calls: every call's measured latency (backoff included), the planner's and the aggregate's calls included.
    A cache hit made no call and adds nothing."""
    return sum(m.latency for m in metrics if not m.cached)


def concurrency(total: float, wall: float) -> float | None:
    """The calls under way at once, on average: the sum of calls over the wall time (1.0: no overlap at all)."""
    return total / wall if wall > 0 else None


def measurable(cached: int, *, every_branch_failed: bool) -> bool:
    """Concurrency and critical path are measurements: not when any call was a cache hit (its latency is a replay's,
    not a call's), nor when every branch failed (nothing was computed)."""
    return cached == 0 and not every_branch_failed


def two_attempts(m1: BranchMetrics, m2: BranchMetrics) -> BranchMetrics:
    """A call and its repair (invalid JSON asked once more) as one: both calls' time, tokens and cost."""
    return replace(
        m2,
        ttft=m1.ttft,
        latency=m1.latency + m2.latency,
        input_tokens=m1.input_tokens + m2.input_tokens,
        output_tokens=m1.output_tokens + m2.output_tokens,
        retries=m1.retries + m2.retries + 1,
        cost=total_cost((m1, m2)),
    )
