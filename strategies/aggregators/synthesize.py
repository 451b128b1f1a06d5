"""synthesize: one LLM call over every unit, told to flag contradictions. When the units do not fit in one call
(`max_input_chars`, or the provider's context window), they are first merged in groups (strategies/reduce.py)."""

from __future__ import annotations

from typing import Any

from ..prompting import Prior, aggregate_messages
from ..reduce import BudgetTooSmall, Reducer, input_budget, size
from .base import Context, Outcome
from .model import ModelAggregator


class Synthesize(ModelAggregator):
    name = "synthesize"
    summary = "one LLM call over every result, told to flag contradictions; reduced in groups when too long"

    async def prepare(self, ctx: Context, priors: list[Prior], target: Any) -> tuple[list[Prior], Outcome | None]:
        budget = input_budget(ctx.spec.max_input_chars, target)
        if budget is None:
            return priors, None
        down = [p for p in priors if p.error]

        def final_size(items: list[Prior]) -> int:
            return size(aggregate_messages(ctx.recipe, ctx.values, ctx.strategy, down + items, cite=ctx.cites))

        reducer = Reducer(ctx.recipe, ctx.values, ctx.caller, target, ctx.emit, ctx.clock,
                          members={u.id: tuple(p.id for p in u.members) for u in ctx.units}, cite=ctx.cites)
        try:
            reduced = await reducer.run([p for p in priors if not p.error], budget, final_size)
        except BudgetTooSmall as err:
            return priors, ctx.done("", error=str(err))
        ctx.failed = ctx.failed + tuple(p.id for p in reduced.failed)
        ctx.extras["reduce"] = {"levels": reduced.levels, "calls": len(reduced.steps), "max_input_chars": budget}
        ctx.steps, ctx.step_deps = reduced.steps, reduced.deps
        return down + reduced.failed + reduced.priors, None
