"""The reduce that never overflows: when the reports do not fit in one aggregating call, they are merged in groups
that fit, each group by one call told it sees only part of the material, level by level, until the last call fits.

Every reduce call is a step like a branch: it is announced (BranchAdded) and then has its own queued, started,
token and done events, goes through the same Caller (slots, retries, cache, the call count) and has its place in
the run's critical path through the dependencies it records.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from fanout.providers.base import Message

from .calls import Caller, Target
from .events import BranchAdded, BranchDone, BranchFailed, BranchInfo, BranchMetrics, BranchQueued, BranchToken, Event
from .prompting import Prior, reduce_messages
from .recipe import AGGREGATE_ID, Recipe

# Characters a token, for a context window given in tokens. On SmolLM2's tokenizer English prose runs about 4.3,
# this README 3.4, and a merge prompt of the model's own summaries of it (symbols, broken Markdown) 3.0, which at
# 3 left a few dozen tokens of a 4,096 window: the figure is below all three, so a call stays inside the window.
CHARS_PER_TOKEN = 2.5
PROMPT_MARGIN_TOKENS = 64  # the chat template's own tokens around the messages
MAX_LEVELS = 8
# Room for a fence's two marker lines around one report (with its title).
BLOCK_OVERHEAD = 200
MIN_REPORT_CHARS = 200  # below this a budget cannot hold two reports worth reading: it is a mistake


class BudgetTooSmall(Exception):
    pass


def input_budget(max_input_chars: int | None, target: Target) -> int | None:
    """The most characters one aggregating call may be sent: the recipe's `max_input_chars`, else what the
    provider's context window leaves after the answer's tokens; None where neither is known."""
    if max_input_chars:
        return max_input_chars
    if target.context_tokens:
        return int(max(0, target.context_tokens - target.max_tokens - PROMPT_MARGIN_TOKENS) * CHARS_PER_TOKEN)
    return None


def size(messages: Sequence[Message]) -> int:
    return sum(len(m.content) for m in messages)


def cut(prior: Prior, limit: int) -> Prior:
    if len(prior.text) <= limit:
        return prior
    return replace(prior, text=prior.text[: max(0, limit)].rstrip() + " [...]")


def pack(items: list[Prior], fits: Callable[[list[Prior]], bool]) -> list[list[Prior]]:
    """Consecutive reports in groups, each group as large as still fits (a report alone always makes a group)."""
    groups: list[list[Prior]] = []
    current: list[Prior] = []
    for item in items:
        if current and not fits(current + [item]):
            groups.append(current)
            current = []
        current.append(item)
    if current:
        groups.append(current)
    return groups


def balanced(items: list[Prior], fits: Callable[[list[Prior]], bool]) -> list[list[Prior]]:
    """As few groups as `pack` makes, but of even sizes: the level's calls then take about as long as each other,
    instead of one full group and a small remainder (the slowest call is the level's wall time)."""
    greedy = pack(items, fits)
    if len(greedy) < 2:
        return greedy
    target = sum(len(p.text) for p in items) / len(greedy)
    even = pack(items, lambda g: fits(g) and sum(len(p.text) for p in g[:-1]) < target)
    return even if len(even) <= len(greedy) else greedy


@dataclass
class Reduced:
    priors: list[Prior]  # what the final call is sent
    levels: int = 0
    steps: dict[str, BranchMetrics] = field(default_factory=dict)
    deps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    failed: list[Prior] = field(default_factory=list)  # reduce steps that failed: named to the last call


@dataclass
class Reducer:
    """Everything a reduce step needs besides its reports: where its calls go and where its events go.
    `members` maps a report's id to the branches it stands for (a vote's voters), for the first level's
    dependencies."""

    recipe: Recipe
    values: dict[str, str]
    caller: Caller
    target: Target
    emit: Callable[[Event], None]
    clock: Callable[[], float]
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cite: bool = False  # the reports carry numbered sources: keep their marks

    def _size(self, group: list[Prior], total: int) -> int:
        return size(reduce_messages(self.recipe, self.values, group, 99, 99, total, cite=self.cite))

    async def run(self, items: list[Prior], budget: int, final_size: Callable[[list[Prior]], int]) -> Reduced:
        """`items` reduced until `final_size(items) <= budget`."""
        out = Reduced(list(items))
        total = len(items)
        while final_size(out.priors) > budget and len(out.priors) > 1 and out.levels < MAX_LEVELS:
            out.levels += 1
            base = self._size([], total)
            cap = (budget - base) // 2 - BLOCK_OVERHEAD  # any two reports fit one call: each level halves the count
            if cap < MIN_REPORT_CHARS:
                raise BudgetTooSmall(
                    f"max_input_chars {budget} leaves {max(cap, 0)} characters a report after the aggregate's "
                    f"prompt; give at least {base + 2 * (BLOCK_OVERHEAD + MIN_REPORT_CHARS)}"
                )
            groups = balanced([cut(p, cap) for p in out.priors], lambda g: self._size(g, total) <= budget)
            calls = [g for g in groups if len(g) > 1]  # a report left alone goes up a level as it is, no call
            merged_groups = iter(await asyncio.gather(
                *(self._step(out, group, out.levels, k + 1, len(calls), total) for k, group in enumerate(calls))
            ))
            merged = [next(merged_groups) if len(g) > 1 else g[0] for g in groups]
            out.failed += [p for p in merged if p.error]
            out.priors = [p for p in merged if not p.error]
        if out.priors and final_size(out.priors) > budget:  # still too long (one report, or levels ran out): cut
            room = (budget - final_size([])) // len(out.priors) - BLOCK_OVERHEAD
            out.priors = [cut(p, max(room, MIN_REPORT_CHARS)) for p in out.priors]
        return out

    async def _step(self, out: Reduced, group: list[Prior], level: int, part: int, parts: int, total: int) -> Prior:
        emit, clock, target = self.emit, self.clock, self.target
        step_id = f"{AGGREGATE_ID}.r{level}.{part}"
        sources = ", ".join(p.title for p in group)
        deps = tuple(d for p in group for d in self.members.get(p.id, (p.id,)))
        out.deps[step_id] = deps
        info = BranchInfo(step_id, _short(f"Reduce {level}.{part} of {parts}: {sources}"), deps,
                          target.provider.name, target.model, AGGREGATE_ID, stage="reduce")
        emit(BranchAdded(clock(), info))
        emit(BranchQueued(clock(), step_id))
        messages = reduce_messages(self.recipe, self.values, group, part, parts, total, cite=self.cite)
        try:
            result = await self.caller.call(step_id, target, target.request(messages),
                                            lambda text: emit(BranchToken(clock(), step_id, text)))
        except asyncio.CancelledError:
            emit(BranchFailed(clock(), step_id, "cancelled", cancelled=True))
            raise
        out.steps[step_id] = result.metrics
        merged_title = _short(f"Partial merge {level}.{part} (of: {sources})")
        if not result.ok:
            emit(BranchFailed(clock(), step_id, result.error, result.metrics))
            return Prior(step_id, merged_title, "", error=result.error)
        emit(BranchDone(clock(), step_id, result.text, result.metrics, result.finish_reason))
        return Prior(step_id, merged_title, result.text)


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
