"""`fanout bench`: one recipe under all three strategies on the same inputs, cache off, as one comparison table; or,
with `--models` / `--providers`, one strategy across models or providers, with the same columns."""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any

from fanout.frontends.compare import Row, table, verdict
from fanout.frontends.judge import judge_text
from fanout.wiring.judge import JudgeRun, judge, task_of
from fanout.wiring.launch import Prepared, RunOptions, execute, prepare
from fanout.frontends.state import RunState
from fanout.core.errors import UserError
from fanout.strategies.recipe.model import STRATEGIES



BATCH_ROW = "batch"  # `--batch`: the parallel run through a provider batch


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
    # --batch: the three strategies stream as ever, and a fourth row runs every branch through a provider batch.
    batch, prepared = prepared.spec.batch, replace(prepared, spec=replace(prepared.spec, batch=None))
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
            if batch is not None:
                state = await run_once(replace(prepared, spec=replace(prepared.spec, batch=batch)), "parallel")
                row.append(replace(Row.of(state), strategy=BATCH_ROW))
                if progress:
                    progress(n + 1, BATCH_ROW, state)
            rounds.append(row)
    finally:
        await prepared.aclose()
    return rounds


def across_options(options: RunOptions, field: str, value: str) -> RunOptions:
    """The options of one row of a comparison across models or providers (`field`), cache off unless asked."""
    changed = {"model": {"model": value}, "provider": {"provider": value, "base_url": None}}[field]
    return replace(options, cache=options.cache or "off", **changed)


async def bench_across(options: RunOptions, field: str, values: list[str], repeat: int = 1,
                       progress=None) -> list[list[Row]]:
    """The recipe on one strategy (`options.strategy`, else the recipe's) once per model or provider (`field`),
    `repeat` rounds interleaved like `bench`; each row is labelled with its model or provider."""
    try:
        prepared = [prepare(across_options(options, field, v)) for v in values]
    except UserError as err:  # each value went in as --model or --provider: say which flag the user gave
        raise UserError(f"--{field}s {','.join(values)}: {err}") from None
    rounds: list[list[Row]] = []
    try:
        for n in range(repeat):
            row = []
            for value, p in zip(values, prepared):
                state = await run_once(p, p.spec.strategy)
                row.append(replace(Row.of(state), strategy=value))
                if progress:
                    progress(n + 1, value, state)
            rounds.append(row)
    finally:
        for p in prepared:
            await p.aclose()
    return rounds


def medians(rounds: list[list[Row]]) -> list[Row]:
    """Per strategy (or model), the round with the median latency (its other figures come with it)."""
    out = []
    for i in range(len(rounds[0])):
        runs = sorted((r[i] for r in rounds), key=lambda row: row.latency)
        out.append(runs[(len(runs) - 1) // 2])
    return out


def spread(rounds: list[list[Row]]) -> dict[str, tuple[float, float, float]]:
    """Per strategy (or model): (min, max, stdev) of latency."""
    out = {}
    for i, first in enumerate(rounds[0]):
        values = [r[i].latency for r in rounds]
        out[first.strategy] = (min(values), max(values), statistics.stdev(values) if len(values) > 1 else 0.0)
    return out


async def judge_medians(rounds: list[list[Row]], options: RunOptions, *, provider: str | None = None,
                        model: str | None = None) -> tuple[list[Row], JudgeRun]:
    """The median round's outputs judged; the rows with each strategy's score."""
    rows = medians(rounds)
    run = await judge({r.strategy: r.output for r in rows}, task_of(options), options, provider=provider, model=model)
    return [replace(r, judged=run.judgement.scores.get(r.strategy)) for r in rows], run


def render(rounds: list[list[Row]], rows: list[Row] | None = None, judged: JudgeRun | None = None,
           across: str = "") -> str:
    """`across`: "" for the three strategies, else "model" or "provider" (the rows' labels)."""
    rows = rows or medians(rounds)
    text = table(rows, label=across.title() or "Strategy")
    if len(rounds) > 1:
        lines = [f"\nLatency over {len(rounds)} rounds (the table shows each strategy's median round):"]
        for s, (lo, hi, sd) in spread(rounds).items():
            lines.append(f"  {s:<11} min {lo * 1000:.0f}ms  max {hi * 1000:.0f}ms  stdev {sd * 1000:.0f}ms")
        text += "\n".join(lines)
    if judged is not None:
        text += "\n" + judge_text(judged.as_dict())
    return text


def to_json(rounds: list[list[Row]], options: RunOptions, rows: list[Row] | None = None,
            judged: JudgeRun | None = None, across: str = "") -> dict[str, Any]:
    """With `across` ("model" or "provider") each row's `strategy` is its model or provider, the strategy that
    ran is `strategy`, and the "vs sequential" figures are against the first row."""
    rows = rows or medians(rounds)
    v = verdict(rows)
    sp = spread(rounds)
    return {
        "recipe": options.recipe,
        "across": across or "strategy",
        **({"strategy": options.strategy} if across else {}),
        "repeat": len(rounds),
        "rows": [
            {
                **r.as_dict(),
                "latency_min": sp[r.strategy][0],
                "latency_max": sp[r.strategy][1],
                "latency_stdev": sp[r.strategy][2],
                "speedup_vs_sequential": v.speedup[r.strategy],
                "token_multiplier_vs_sequential": v.token_multiplier[r.strategy],
            }
            for r in rows
        ],
        "rounds": [[r.as_dict() for r in rnd] for rnd in rounds],
        "fastest": v.fastest,
        "cheapest": v.cheapest,
        "longest_output": v.longest_output,
        "least_redundant": v.least_redundant,
        "best_judged": v.best_judged,
        **({"judge": judged.as_dict()} if judged is not None else {}),
    }
