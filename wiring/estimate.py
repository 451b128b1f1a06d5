"""What a run will cost, before any call: the run itself, dry, on a stand-in provider.

The engine runs the prepared recipe as it would for real — the same expansion (voters, items, sections, files
counted from the actual inputs), the same schedule and prompts (each step shown what its strategy shows it), the
planner, schema repairs, the aggregate and its reduce levels — but every call goes to a stand-in that answers at
once and makes none. Each request's prompt is counted with the model's own tokenizer where one is at hand (the
embedded model's), else estimated (and said so), and priced at the model's rates. It runs twice:

- low: the fewest calls (a planner's `min_branches`, no repair) and a typical answer, a quarter of `max_tokens`
  (an assumption, not a measurement: a model that answers in fewer tokens costs less still);
- high: the most calls (`max_branches`, the longest titles and briefs, every planned angle after all the earlier
  ones, one repair of the plan and of each schema branch) and every answer at `max_tokens`.

A call that may search the web (`--search web`) makes one search at the low end and `max_uses` at the high end,
priced per search; no search is made for real. A model with no known price (or a search with none) is named,
and the cost is then unknown, never $0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import AsyncIterator, Callable, Sequence

from fanout.core.errors import UserError
from fanout.frontends.report import fmt_cost, fmt_tokens
from fanout.providers.base import GenerationRequest, StreamEnd, StreamItem, TextDelta
from fanout.providers.tokens import Counter, counter_for
from fanout.strategies.calls import Target
from fanout.strategies.batching import members
from fanout.strategies.engine import Engine, RunSpec
from fanout.strategies.limits import ProviderLimiter
from fanout.strategies.plan import BRIEF_MAX, TITLE_MAX
from fanout.strategies.recipe import CallSettings

from .launch import Prepared

TYPICAL_SHARE = 0.25  # the low figure's answer: this share of max_tokens
FILLER = " the"  # one token in every BPE vocabulary at hand, and four characters: one token estimated too


@dataclass(frozen=True)
class Call:
    """One call the dry run made: where it went, its prompt and answer in tokens, and what they cost."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost: float | None
    exact: bool  # the prompt was counted with the model's own tokenizer
    planner: bool = False
    searches: int = 0  # web searches it may make


@dataclass
class Estimate:
    low: list[Call] = field(default_factory=list)
    high: list[Call] = field(default_factory=list)

    def __add__(self, other: "Estimate") -> "Estimate":
        return Estimate(self.low + other.low, self.high + other.high)

    @property
    def calls(self) -> int:
        return len(self.high)

    @property
    def calls_min(self) -> int:
        return len(self.low)

    @property
    def input_tokens(self) -> int:
        return sum(c.input_tokens for c in self.high)

    @property
    def input_tokens_low(self) -> int:
        return sum(c.input_tokens for c in self.low)

    @property
    def output_tokens_max(self) -> int:
        return sum(c.output_tokens for c in self.high)

    @property
    def searches_max(self) -> int:
        return sum(c.searches for c in self.high)

    @property
    def cost_low(self) -> float | None:
        return _total(self.low)

    @property
    def cost_high(self) -> float | None:
        return _total(self.high)

    @property
    def unknown_prices(self) -> list[str]:
        return sorted({c.model for c in self.low + self.high if c.cost is None})

    @property
    def tokens_estimated(self) -> bool:
        return not all(c.exact for c in self.low + self.high)

    def as_dict(self) -> dict:
        return {
            "calls": self.calls,
            "calls_min": self.calls_min,
            "input_tokens": self.input_tokens,
            "input_tokens_low": self.input_tokens_low,
            "output_tokens_max": self.output_tokens_max,
            "searches_max": self.searches_max,
            "cost_low": self.cost_low,
            "cost_high": self.cost_high,
            "unknown_prices": self.unknown_prices,
            "tokens_estimated": self.tokens_estimated,
        }

    def by_model(self) -> list[dict]:
        """One row per provider and model: calls, tokens and cost at both ends."""
        rows: dict[tuple[str, str], dict] = {}
        for end, calls in (("low", self.low), ("high", self.high)):
            for c in calls:
                row = rows.setdefault((c.provider, c.model), {"provider": c.provider, "model": c.model, "calls_low": 0,
                                                              "calls": 0, "input_tokens": 0, "output_tokens_max": 0,
                                                              "cost_low": 0.0, "cost_high": 0.0,
                                                              "tokens_estimated": False})
                row["tokens_estimated"] = row["tokens_estimated"] or not c.exact
                row["calls_low" if end == "low" else "calls"] += 1
                if end == "high":
                    row["input_tokens"] += c.input_tokens
                    row["output_tokens_max"] += c.output_tokens
                key = f"cost_{end}"
                row[key] = None if c.cost is None or row[key] is None else row[key] + c.cost
        return list(rows.values())


def _total(calls: list[Call]) -> float | None:
    if any(c.cost is None for c in calls):
        return None
    return sum(c.cost for c in calls)  # type: ignore[misc]


class StandIn:
    """Takes the real provider's place in a dry run: counts each prompt, answers at once, calls nobody."""

    def __init__(self, target: Target, high: bool, count: Counter, log: list[Call]) -> None:
        real = target.provider
        self.name, self.kind, self.model, self.base_url = real.name, real.kind, real.model, real.base_url
        self.concurrency = real.concurrency
        self.target, self.high, self.count, self.log = target, high, count, log
        self.plans = 0  # planner requests answered (the high run's first plan is unusable: one repair)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        counted = self.count(request.messages)
        out = request.max_tokens if self.high else max(1, int(request.max_tokens * TYPICAL_SHARE))
        planner = _asks_for_plan(request)
        text = self._plan_text(request) if planner else self._answer(request, out)
        searches = (request.web_search if self.high else 1) if request.web_search else 0
        self.log.append(Call(self.name, request.model, counted.tokens, out,
                             self.target.cost(request.model, counted.tokens, out, searches), counted.exact, planner,
                             searches))
        yield TextDelta(text)
        yield StreamEnd(counted.tokens, out, "stop", request.model)

    def _answer(self, request: GenerationRequest, tokens: int) -> str:
        # Low: JSON where structured output asks for it, so that branch needs no repair; high: never JSON, so
        # every schema branch is repaired once.
        words = FILLER * tokens
        return json.dumps({"answer": words}) if request.json_schema is not None and not self.high else words

    def _plan_text(self, request: GenerationRequest) -> str:
        self.plans += 1
        if self.high and self.plans == 1:
            return "no plan"
        angles = request.json_schema["properties"]["angles"]  # type: ignore[index]
        n = angles["maxItems"] if self.high else angles["minItems"]
        titles = [f"Angle {i + 1} " + ("x" * (TITLE_MAX - 10) if self.high else "") for i in range(n)]
        return json.dumps({"angles": [
            {"title": t, "brief": "y" * BRIEF_MAX if self.high else "", "after": titles[:i] if self.high else []}
            for i, t in enumerate(titles)]})

    async def aclose(self) -> None:
        pass


def _asks_for_plan(request: GenerationRequest) -> bool:
    schema = request.json_schema or {}
    return "angles" in (schema.get("properties") or {})


async def dry_run(prepared: Prepared, strategy: str, *, high: bool,
                  counter: Callable[[Target], Counter] | None = None) -> list[Call]:
    """The run under `strategy`, on stand-ins: the calls it makes."""
    log: list[Call] = []
    stand_ins: dict[str, StandIn] = {}
    limiter = ProviderLimiter(1_000_000, adaptive=False)
    count_for = counter or (lambda target: counter_for(target.provider, target.model))

    def standing_in(resolve: Callable[[CallSettings], Target], kind: str) -> Callable[[CallSettings], Target]:
        def stand_in(settings: CallSettings) -> Target:
            target = resolve(settings)
            key = f"{kind}\0{target.provider.name}\0{target.model}"
            if key not in stand_ins:
                stand_ins[key] = StandIn(target, high, count_for(target), log)
            return replace(target, provider=stand_ins[key], limiter=limiter)

        return stand_in

    batch = prepared.spec.batch
    spec = replace(prepared.spec, strategy=strategy, resolve=standing_in(prepared.spec.resolve, "call"), source=None,
                   session_id="estimate", budget=None, batch=None)
    engine = Engine(spec) if batch is None else DryBatches(spec, batch.mode, standing_in(batch.resolve, "batch"))
    async for _ in engine.events():
        pass
    return log


class DryBatches(Engine):
    """A dry run of a batched run: the steps that would go in a batch are priced at the batch's rates."""

    def __init__(self, spec: RunSpec, mode: str, resolve: Callable[[CallSettings], Target]) -> None:
        super().__init__(spec)
        self.mode, self.resolve_batched = mode, resolve
        self._first_wave = True

    async def _run_branches(self, caller, targets: dict[str, Target], branches) -> None:
        if self._first_wave:  # as for real, only the first wave's steps go in a batch
            self._first_wave = False
            for bid in members(branches, self.waits, self.mode):
                targets[bid] = self.resolve_batched(self._branches[bid].settings)
        await super()._run_branches(caller, targets, branches)


async def estimate(prepared: Prepared, strategies: Sequence[str] | None = None, repeat: int = 1, *,
                   counter: Callable[[Target], Counter] | None = None) -> Estimate:
    """The run's estimate; with several strategies (bench) their sum, `repeat` times, the plan made once."""
    total = Estimate()
    for n, strategy in enumerate(strategies or [prepared.spec.strategy]):
        for k in range(repeat):
            first = n == 0 and k == 0
            low = await dry_run(prepared, strategy, high=False, counter=counter)
            high = await dry_run(prepared, strategy, high=True, counter=counter)
            if not first or prepared.spec.plan is not None:  # the plan is made once (or was made already)
                low, high = [c for c in low if not c.planner], [c for c in high if not c.planner]
            total = total + Estimate(low, high)
    return total


def render(est: Estimate) -> str:
    """The short table `--estimate` prints on stderr."""
    lines = ["estimate (no call made):",
             f"  {'provider/model':<32} {'calls':>9} {'input tokens':>14} {'output at most':>15} {'low':>10} {'high':>10}"]
    for row in est.by_model():
        calls = f"{row['calls_low']}-{row['calls']}" if row["calls_low"] != row["calls"] else str(row["calls"])
        lines.append(f"  {row['provider'] + '/' + row['model']:<32} {calls:>9} {fmt_tokens(row['input_tokens'], row['tokens_estimated']):>14} "
                     f"{row['output_tokens_max']:>15} {fmt_cost(row['cost_low']):>10} {fmt_cost(row['cost_high']):>10}")
    calls = f"{est.calls_min}-{est.calls}" if est.calls_min != est.calls else str(est.calls)
    lines.append(f"  {'total':<32} {calls:>9} {fmt_tokens(est.input_tokens, est.tokens_estimated):>14} {est.output_tokens_max:>15} "
                 f"{fmt_cost(est.cost_low):>10} {fmt_cost(est.cost_high):>10}")
    notes = []
    if est.tokens_estimated:
        notes.append("~: prompt tokens estimated (about 4 characters a token): no tokenizer at hand for that model")
    if est.unknown_prices:
        notes.append(f"cost unknown (—): no price is known for {', '.join(est.unknown_prices)} "
                     "(set [providers.NAME.prices] in the config)")
    notes.append(f"low: a typical answer ({TYPICAL_SHARE:.0%} of max_tokens); high: every answer at max_tokens; "
                 f"searches at most: {est.searches_max}")
    return "\n".join(lines + [f"  {n}" for n in notes])


def confirm_question(est: Estimate, limit: float) -> str | None:
    """What to ask before a run whose high figure is above `limit` (or unknown); None: nothing to ask."""
    high = est.cost_high
    if high is not None and high <= limit:
        return None
    what = f"up to {fmt_cost(high)}" if high is not None else f"an unknown amount (no price for {', '.join(est.unknown_prices)})"
    return f"this run may cost {what}, above --confirm-above ${limit:g}"


def check_confirm(est: Estimate, limit: float, *, ask: Callable[[str], bool] | None, yes: bool) -> None:
    """`--confirm-above`: a high figure above the limit (or unknown) is asked about on a terminal; without one the
    run is refused unless `--yes`."""
    question = None if yes else confirm_question(est, limit)
    if question is None:
        return
    if ask is None:
        raise UserError(f"{question}; no terminal to ask on: add --yes to run it anyway")
    if not ask(f"{question}. Run it? [y/N] "):
        raise UserError(f"{question}: not confirmed")
