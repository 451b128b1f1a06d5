"""The planner: the run's first call, which decides the branches.

It asks for structured output (the plan's JSON Schema: enforced by providers that can, stated in the prompt for
all), parses the answer (strategies/plan.py) and, when the answer is no usable plan, asks once more showing it
its answer and what was wrong, as `schema` branches are repaired. A second bad answer fails the run, naming the
planner and showing what it said.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from .calls import Caller, CallResult, Target
from .events import BranchMetrics, BranchRetrying, BranchToken, Event
from .metrics import two_attempts
from .plan import Plan, PlanError, parse_plan, plan_schema
from .prompting import plan_messages, repair_messages
from .recipe import PLAN_ID, Recipe

SHOWN = 2000  # characters of a bad plan quoted in the run's error


@dataclass(frozen=True)
class PlanOutcome:
    """What the planner call gave: a plan, or an error; its text and metrics either way."""

    plan: Plan | None
    text: str
    metrics: BranchMetrics
    error: str = ""


async def make_plan(
    recipe: Recipe,
    values: dict[str, str],
    target: Target,
    caller: Caller,
    emit: Callable[[Event], None],
    clock: Callable[[], float],
) -> PlanOutcome:
    spec = recipe.plan
    assert spec is not None
    taken = {b.id for b in recipe.branches}
    schema = plan_schema(spec.dependencies, spec.min_branches, spec.max_branches)
    messages = plan_messages(recipe, values)
    on_token = lambda text: emit(BranchToken(clock(), PLAN_ID, text))  # noqa: E731
    first = await caller.call(PLAN_ID, target, target.request(messages, json_schema=schema), on_token)
    if not first.ok:
        return PlanOutcome(None, first.text, first.metrics, f"the planner's call failed: {first.error}")
    try:
        return PlanOutcome(parse_plan(first.text, spec, taken), first.text, first.metrics)
    except PlanError as err:
        problem = _problem(err, first, target)
    emit(BranchRetrying(clock(), PLAN_ID, 1, 0.0, f"the plan was not usable ({problem}): asking once more",
                        restart=True))
    again = repair_messages(messages, first.text, f"That answer was not a usable plan ({problem})",
                            json.dumps(schema))
    second = await caller.call(PLAN_ID, target, target.request(again, json_schema=schema), on_token)
    metrics = two_attempts(first.metrics, second.metrics) if second.ok else first.metrics
    if not second.ok:
        return PlanOutcome(None, second.text, metrics, f"the planner's call failed: {second.error}")
    try:
        return PlanOutcome(parse_plan(second.text, spec, taken), second.text, metrics)
    except PlanError as err:
        return PlanOutcome(None, second.text, metrics, bad_plan(_problem(err, second, target), second.text))


def _problem(err: PlanError, result: CallResult, target: Target) -> str:
    if result.finish_reason == "length":  # cut off mid-plan: the parse error alone would mislead
        return (f"the answer stopped at max_tokens ({target.max_tokens}) before the plan was complete "
                "(raise max_tokens in the recipe's [plan] table)")
    return str(err)


def bad_plan(problem: str, text: str) -> str:
    shown = text if len(text) <= SHOWN else text[:SHOWN] + " [...]"
    return f"the planner gave no usable plan, even after one repair: {problem}. It answered:\n{shown}"
