"""Aggregators that make one LLM call over the units (synthesize, judge).

The units still standing are the candidates; each goes to the model inside a fence. The model may echo its
prompt: the fence markers never reach the result, and an echo is flagged. Failed branches are named to the
model, never silently dropped.
"""

from __future__ import annotations

from typing import Any

from ..citations import CITES
from ..echoes import MarkerScrubber, result_flag
from ..events import AggregateToken
from ..prompting import Fence, Prior, aggregate_messages, grounded_prior
from ..recipe import AGGREGATE_ID, Aggregate, Branch
from .base import Aggregator, Context, Outcome
from .units import Unit


class ModelAggregator(Aggregator):
    judge = False  # the prompt asks for a pick among numbered candidates, not a synthesis

    def check(self, aggregate: Aggregate, branches: list[Branch]) -> tuple[str, str] | None:
        if not aggregate.prompt.strip():
            return "aggregate.prompt", f"is required when kind is {self.name!r}"
        return None

    def priors(self, ctx: Context, candidates: list[Unit]) -> list[Prior]:
        """What the model is shown: every unit, a failed one as its error; in a run with sources, each report with
        its citations marked and its numbered sources."""
        return [Prior(u.id, u.title, self.grounded(ctx, u).body(),
                      "; ".join(p.error for p in u.members) if u.failed else "") for u in ctx.units]

    @staticmethod
    def grounded(ctx: Context, unit: Unit) -> Unit:
        if not ctx.cites:
            return unit
        return Unit(unit.id, unit.title, [grounded_prior(p, ctx.numbering) for p in unit.members], unit.vote)

    async def prepare(self, ctx: Context, priors: list[Prior], target: Any) -> tuple[list[Prior], Outcome | None]:
        """A chance to shrink the priors before the call (synthesize's reduce); an Outcome ends the aggregate."""
        return priors, None

    def verdict(self, text: str, candidates: list[Unit]) -> dict[str, Any]:
        """What the answer says, as result fields."""
        return {}

    async def run(self, ctx: Context) -> Outcome:
        candidates = [u for u in ctx.units if not u.failed]
        if not candidates:
            return ctx.done("", error="every branch failed: nothing to aggregate")
        target = ctx.resolve(ctx.spec.settings)
        priors, ended = await self.prepare(ctx, self.priors(ctx, candidates), target)
        if ended is not None:
            return ended
        messages = aggregate_messages(ctx.recipe, ctx.values, ctx.strategy, priors, judge=self.judge,
                                      cite=ctx.cites)
        scrubber = MarkerScrubber(Fence.around(priors).nonce)

        def on_token(text: str) -> None:
            if text := scrubber.feed(text):
                ctx.emit(AggregateToken(ctx.clock(), text))

        result = await ctx.caller.call(AGGREGATE_ID, target, target.request(messages), on_token)
        if rest := scrubber.flush():
            ctx.emit(AggregateToken(ctx.clock(), rest))
        text = scrubber.scrub(result.text)
        verdict = self.verdict(text, candidates) if result.ok else {}
        flag = result_flag(text, result.text, "\n\n".join(m.content for m in messages)) if result.ok else ""
        if flag:
            verdict["flagged"] = flag
        if ctx.cites and not self.judge:
            verdict[CITES] = True
        return ctx.done(text, verdict, metrics=result.metrics, error=result.error)
