"""Combining the branches: the last step of every run.

Failed branches are always named, to the aggregator model and in the result, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .calls import Caller
from .events import AggregateDone, AggregateStarted, AggregateToken, BranchMetrics, Event
from .prompting import Fence, Prior, aggregate_messages
from .recipe import AGGREGATE_ID, Recipe


@dataclass
class Outcome:
    text: str = ""
    metrics: BranchMetrics | None = None
    error: str = ""


def concat(priors: list[Prior]) -> str:
    """In recipe order, a heading per branch."""
    parts = []
    for p in priors:
        body = p.text.strip() if not p.error else f"_This branch failed: {p.error}_"
        parts.append(f"## {p.title}\n\n{body}")
    return "\n\n".join(parts)


async def aggregate(
    recipe: Recipe,
    values: dict[str, str],
    strategy: str,
    priors: list[Prior],
    fence: Fence,
    caller: Caller,
    resolve: Callable,
    emit: Callable[[Event], None],
    clock: Callable[[], float],
) -> Outcome:
    method = recipe.aggregate.kind
    failed = tuple(p.id for p in priors if p.error)
    emit(AggregateStarted(clock(), method, failed))
    if method == "concat":
        text = concat(priors)
        emit(AggregateDone(clock(), method, text, failed))
        return Outcome(text)
    if all(p.error for p in priors):
        error = "every branch failed: nothing to aggregate"
        emit(AggregateDone(clock(), method, "", failed, error=error))
        return Outcome(error=error)
    target = resolve(recipe.aggregate.settings)
    messages = aggregate_messages(recipe, values, strategy, priors, fence)
    result = await caller.call(
        AGGREGATE_ID, target, target.request(messages), lambda text: emit(AggregateToken(clock(), text))
    )
    emit(AggregateDone(clock(), method, result.text, failed, metrics=result.metrics, error=result.error))
    return Outcome(result.text, result.metrics, result.error)
