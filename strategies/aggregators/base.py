"""What an aggregator is, and what it is given.

An aggregator is a class with a `name` (the recipe's `aggregate.kind`), an optional load-time `check` of the
recipe, and `run`, which combines the units and ends with exactly one AggregateDone (through `Context.done`).
Most combine locally (`Local`: text and a result from the units, no call); `model.ModelAggregator` makes one
LLM call. A new aggregator is a module in this package and one entry in `__init__.AGGREGATORS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from ..calls import Caller
from ..citations import Numbering
from ..events import AggregateDone, BranchMetrics, Event
from ..prompting import Prior
from ..recipe import Aggregate, Branch, Recipe
from .units import Unit


@dataclass
class Outcome:
    text: str = ""
    metrics: BranchMetrics | None = None
    error: str = ""
    # Reduce steps (partial merges before the last call): their metrics and what each waited for.
    steps: dict[str, BranchMetrics] = field(default_factory=dict)
    step_deps: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class Context:
    """Everything an aggregator may use: the recipe and its inputs, the branches' results (as priors and as
    units), the result fields every kind carries (`extras`), and the run's call machinery."""

    recipe: Recipe
    values: dict[str, str]
    strategy: str
    priors: list[Prior]
    units: list[Unit]
    extras: dict[str, Any]
    failed: tuple[str, ...]  # branches left out (failed, skipped, cancelled)
    caller: Caller
    resolve: Callable
    emit: Callable[[Event], None]
    clock: Callable[[], float]
    # Reduce steps made on the way (synthesize): they are calls of the run, shown as branches.
    steps: dict[str, BranchMetrics] = field(default_factory=dict)
    step_deps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    numbering: Numbering = field(default_factory=Numbering)  # the run's sources, numbered once

    @property
    def cites(self) -> bool:
        """The branches read sources: an aggregating call is shown them numbered and asked to cite them."""
        return bool(self.numbering.sources)

    @property
    def spec(self) -> Aggregate:
        return self.recipe.aggregate

    def done(self, text: str, result: dict[str, Any] | None = None, *, metrics: BranchMetrics | None = None,
             error: str = "") -> Outcome:
        """Publishes the aggregate's end (its result on top of the extras) and returns the outcome."""
        self.emit(AggregateDone(self.clock(), self.spec.kind, text, self.failed,
                                result={**self.extras, **(result or {})}, metrics=metrics, error=error))
        return Outcome(text, metrics, error, self.steps, self.step_deps)


class Aggregator:
    name: ClassVar[str]
    summary: ClassVar[str]  # one line, for docs and help

    def check(self, aggregate: Aggregate, branches: list[Branch]) -> tuple[str, str] | None:
        """A recipe this kind cannot run: (the field at fault, what is wrong); None when it can."""
        return None

    async def run(self, ctx: Context) -> Outcome:
        raise NotImplementedError


class Local(Aggregator):
    """Combines the units without a call."""

    def combine(self, units: list[Unit], spec: Aggregate) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    async def run(self, ctx: Context) -> Outcome:
        text, result = self.combine(ctx.units, ctx.spec)
        return ctx.done(text, result)
