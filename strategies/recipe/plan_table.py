"""The `[plan]` table as the engine's PlanSpec: what its pydantic model (schema.PlanTable) cannot say alone —
bounds that depend on each other, and the shared prompt the planned branches need."""

from __future__ import annotations

from .model import CallSettings, PlanSpec, RecipeError
from .schema import PlanTable


def read_plan(t: PlanTable, source: str, *, shared_prompt: str | None, base: CallSettings, context: int,
              settings: CallSettings) -> PlanSpec:
    """`settings` is the planner's own call (its table's settings over the recipe's [defaults])."""
    if not t.prompt.strip():
        raise RecipeError(f"{source}: plan.prompt: is empty: say what the planner should split into angles")
    lo = t.min_branches
    hi = t.max_branches if t.max_branches is not None else max(8, lo)
    if lo > hi:
        raise RecipeError(f"{source}: plan.min_branches: is {lo}, more than max_branches ({hi})")
    if shared_prompt is None:
        raise RecipeError(f"{source}: plan: planned branches use the recipe-level `prompt` (with {{title}} and "
                          "{brief}); add one")
    follow_ups = t.follow_ups if t.follow_ups is not None else max(1, hi // 2)
    return PlanSpec(prompt=t.prompt, min_branches=lo, max_branches=hi, dependencies=t.dependencies, depth=t.depth,
                    follow_ups=follow_ups, settings=settings, branch_prompt=shared_prompt, branch_settings=base, branch_context=context)
