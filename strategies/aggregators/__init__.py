"""Combining the branches: the last step of every run. One module per kind, one entry each in `AGGREGATORS`.

`run` turns the branches' results into units (units.py), hands them to the recipe's kind, and makes sure the
aggregate always ends with one AggregateDone. Failed branches are always named, to the aggregator model and in
the result, never silently dropped.
"""

from __future__ import annotations

from typing import Callable

from ..calls import Caller
from ..citations import Grounded, number_sources
from ..events import AggregateStarted, Event
from ..prompting import Prior
from ..recipe import Recipe
from .base import Aggregator, Context, Outcome
from .checks import Checks
from .concat import Concat
from .judge import Judge
from .merge import Merge
from .synthesize import Synthesize
from .union import Union
from .units import build_units, extras
from .vote import Vote

# The recipe's `aggregate.kind` names one of these; the order is the order they are listed in messages and docs.
AGGREGATORS: dict[str, Aggregator] = {
    a.name: a for a in (Concat(), Merge(), Union(), Synthesize(), Judge(), Vote(), Checks())
}


async def run(
    recipe: Recipe,
    values: dict[str, str],
    strategy: str,
    priors: list[Prior],
    caller: Caller,
    resolve: Callable,
    emit: Callable[[Event], None],
    clock: Callable[[], float],
) -> Outcome:
    kind = recipe.aggregate.kind
    failed = tuple(p.id for p in priors if p.error)
    emit(AggregateStarted(clock(), kind, failed))
    units = build_units(recipe, priors)
    numbering = number_sources(Grounded(p.id, p.given, p.received, p.cited) for p in priors)
    ctx = Context(recipe, values, strategy, priors, units, extras(recipe, units), failed, caller, resolve, emit,
                  clock, numbering=numbering)
    return await AGGREGATORS[kind].run(ctx)


__all__ = ["AGGREGATORS", "Aggregator", "Context", "Outcome", "run"]
