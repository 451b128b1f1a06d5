"""`fanout bench`: one recipe under all three strategies on the same inputs, cache off, as the seeds' table."""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any

from fanout.frontends.compare import Row, table, verdict
from fanout.wiring.launch import Prepared, RunOptions, execute, prepare
from fanout.frontends.state import RunState
from fanout.strategies.recipe.model import STRATEGIES



async def run_once(prepared: Prepared, strategy: str) -> RunState:
    state = RunState()
    await execute(prepared.again(strategy), [state.apply], record=False)
    return state


class PlanFailed(Exception):
    """A planned recipe whose planner gave no usable plan: there is nothing to compare."""


async def plan_once(prepared: Prepared) -> tuple[Prepared, RunState]:
    """A planned recipe is planned once and every strategy gets that plan: otherwise the comparison would measure
    two different questions. The planner's call is its own run, shown and counted once."""
    state = RunState()
    await execute(prepared.planning(), [state.apply], record=False)
    if state.status != "ok" or state.plan is None or state.plan.error:
        raise PlanFailed(state.done.error if state.done else "the planner did not finish")
    return prepared.with_plan(state), state


async def bench(options: RunOptions, repeat: int = 1, progress=None, on_plan=None) -> list[list[Row]]:
    """`repeat` rounds; each round runs every strategy once (interleaved, so drift hits all three alike).
    `on_plan(state)` sees the planner's run of a planned recipe."""
    # Off unless asked: a latency table of cache hits measures the disk, not the strategies.
    prepared = prepare(replace(options, cache=options.cache or "off"))
    rounds: list[list[Row]] = []
    try:
        if prepared.planned:
            prepared, plan_state = await plan_once(prepared)
            if on_plan:
                on_plan(plan_state)
        for n in range(repeat):
            row = []
            for strategy in STRATEGIES:
                state = await run_once(prepared, strategy)
                row.append(Row.of(state))
                if progress:
                    progress(n + 1, strategy, state)
            rounds.append(row)
    finally:
        await prepared.aclose()
    return rounds


def medians(rounds: list[list[Row]]) -> list[Row]:
    """Per strategy, the round with the median latency (its other figures come with it)."""
    out = []
    for i, _ in enumerate(STRATEGIES):
        runs = sorted((r[i] for r in rounds), key=lambda row: row.latency)
        out.append(runs[(len(runs) - 1) // 2])
    return out


def spread(rounds: list[list[Row]]) -> dict[str, tuple[float, float, float]]:
    """Per strategy: (min, max, stdev) of latency."""
    out = {}
    for i, s in enumerate(STRATEGIES):
        values = [r[i].latency for r in rounds]
        out[s] = (min(values), max(values), statistics.stdev(values) if len(values) > 1 else 0.0)
    return out


def render(rounds: list[list[Row]]) -> str:
    rows = medians(rounds)
    text = table(rows)
    if len(rounds) > 1:
        lines = [f"\nLatency over {len(rounds)} rounds (the table shows each strategy's median round):"]
        for s, (lo, hi, sd) in spread(rounds).items():
            lines.append(f"  {s:<11} min {lo * 1000:.0f}ms  max {hi * 1000:.0f}ms  stdev {sd * 1000:.0f}ms")
        text += "\n".join(lines)
    return text


def to_json(rounds: list[list[Row]], options: RunOptions) -> dict[str, Any]:
    rows = medians(rounds)
    v = verdict(rows)
    sp = spread(rounds)
    return {
        "recipe": options.recipe,
        "repeat": len(rounds),
        "rows": [
            {
                **r.__dict__,
                "latency_min": sp[r.strategy][0],
                "latency_max": sp[r.strategy][1],
                "latency_stdev": sp[r.strategy][2],
                "speedup_vs_sequential": v.speedup[r.strategy],
                "token_multiplier_vs_sequential": v.token_multiplier[r.strategy],
            }
            for r in rows
        ],
        "rounds": [[r.__dict__ for r in rnd] for rnd in rounds],
        "fastest": v.fastest,
        "cheapest": v.cheapest,
        "longest_output": v.longest_output,
    }
