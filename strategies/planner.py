"""The planner: the run's first call, which decides the branches, and, in a run of several waves, the follow-up
planner after each wave, which decides the next one from what the wave found.

Each asks for structured output (the plan's JSON Schema: enforced by providers that can, stated in the prompt for
all), parses the answer (strategies/plan.py) and, when the answer is no usable plan, asks once more showing it
its answer and what was wrong, as `schema` branches are repaired. A second bad answer is no plan: the first
planner's fails the run, naming the planner and showing what it said; a follow-up's ends the waves there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from fanout.providers.base import Message

from .calls import Caller, CallResult, Target
from .events import BranchMetrics, BranchRetrying, BranchToken, Event
from .metrics import two_attempts
from .plan import Plan, PlanError, follow_up_schema, parse_plan, plan_schema
from .prompting import Prior, follow_up_messages, plan_messages, repair_messages
from .recipe import Recipe, planner_id

SHOWN = 2000  # characters of a bad plan quoted in the run's error


@dataclass(frozen=True)
class PlanOutcome:
    """What the planner call gave: a plan, or an error; its text and metrics either way."""

    plan: Plan | None
    text: str
    metrics: BranchMetrics
    error: str = ""


@dataclass(frozen=True)
class PlanCall:
    """One planner's call: its lane (the id its events carry), what it is sent, the form it is asked for, how
    its answer is read, and what it is called in messages."""

    lane: str
    messages: tuple[Message, ...]
    schema: dict[str, Any]
    parse: Callable[[str], Plan]
    who: str = "the planner"


def first_plan(recipe: Recipe, values: dict[str, str]) -> PlanCall:
    """The run's first planner: the recipe's plan prompt; its angles may not take the recipe's own ids."""
    spec = recipe.plan
    assert spec is not None
    taken = {b.id for b in recipe.branches}
    return PlanCall(planner_id(1), plan_messages(recipe, values),
                    plan_schema(spec.dependencies, spec.min_branches, spec.max_branches),
                    lambda text: parse_plan(text, spec, taken))


def follow_up_plan(recipe: Recipe, values: dict[str, str], wave: int, findings: Sequence[Prior],
                   sources: Mapping[str, Sequence[str]]) -> PlanCall:
    """The follow-up planner before `wave`: shown the last wave's `findings` (with their `sources` where the run
    has them) and every title covered so far (the recipe's branches, by now every earlier wave's)."""
    spec = recipe.plan
    assert spec is not None
    earlier: dict[str, str] = {}
    for b in recipe.branches:
        earlier.setdefault(b.title.casefold(), b.id)
    taken = {b.id for b in recipe.branches}
    messages = follow_up_messages(recipe, values, wave, list(findings), [b.title for b in recipe.branches], sources)
    return PlanCall(planner_id(wave), messages, follow_up_schema(spec),
                    lambda text: parse_plan(text, spec, taken, earlier), f"the follow-up planner (wave {wave})")


async def make_plan(
    call: PlanCall,
    target: Target,
    caller: Caller,
    emit: Callable[[Event], None],
    clock: Callable[[], float],
) -> PlanOutcome:
    on_token = lambda text: emit(BranchToken(clock(), call.lane, text))  # noqa: E731
    first = await caller.call(call.lane, target, target.request(call.messages, json_schema=call.schema), on_token)
    if not first.ok:
        return PlanOutcome(None, first.text, first.metrics, f"{call.who}'s call failed: {first.error}")
    try:
        return PlanOutcome(call.parse(first.text), first.text, first.metrics)
    except PlanError as err:
        problem = _problem(err, first, target)
    emit(BranchRetrying(clock(), call.lane, 1, 0.0, f"the plan was not usable ({problem}): asking once more",
                        restart=True))
    again = repair_messages(call.messages, first.text, f"That answer was not a usable plan ({problem})",
                            json.dumps(call.schema))
    second = await caller.call(call.lane, target, target.request(again, json_schema=call.schema), on_token)
    metrics = two_attempts(first.metrics, second.metrics) if second.ok else first.metrics
    if not second.ok:
        return PlanOutcome(None, second.text, metrics, f"{call.who}'s call failed: {second.error}")
    try:
        return PlanOutcome(call.parse(second.text), second.text, metrics)
    except PlanError as err:
        return PlanOutcome(None, second.text, metrics, bad_plan(_problem(err, second, target), second.text, call.who))


def _problem(err: PlanError, result: CallResult, target: Target) -> str:
    if result.finish_reason == "length":  # cut off mid-plan: the parse error alone would mislead
        return (f"the answer stopped at max_tokens ({target.max_tokens}) before the plan was complete "
                "(raise max_tokens in the recipe's [plan] table)")
    return str(err)


def bad_plan(problem: str, text: str, who: str = "the planner") -> str:
    shown = text if len(text) <= SHOWN else text[:SHOWN] + " [...]"
    return f"{who} gave no usable plan, even after one repair: {problem}. It answered:\n{shown}"
