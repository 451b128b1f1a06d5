"""Asking a judge which strategy's output is better (`fanout bench --judge`, the compare screen's j): the
pairwise trials of `frontends.judge` run as one ordinary fanout run, in parallel, on a provider and model that
may differ from the judged runs'. Being a run, its calls are cached (the same outputs are never judged twice at a
price), recorded as a session (the judge's replies can be read and replayed) and its cost is its own."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Mapping

from fanout.frontends import judge as judging
from fanout.frontends.state import RunState
from fanout.strategies import recipe as recipes
from fanout.strategies.recipe import from_data
from fanout.wiring.launch import RunOptions, execute, prepare_recipe


@dataclass(frozen=True)
class JudgeRun:
    judgement: judging.Judgement
    state: RunState  # the judge's own run: its replies, metrics and cost
    trials: list[judging.Trial]

    def as_dict(self) -> dict:
        m = self.state.metrics
        return {
            **self.judgement.as_dict(),
            "provider": self.state.started.provider if self.state.started else "",
            "model": self.state.started.model if self.state.started else "",
            "session_id": self.state.started.session_id if self.state.started else "",
            "trials": [{"id": t.id, "first": t.first, "second": t.second, "labels": list(t.labels),
                        "reply": self.state.branches[t.id].text if t.id in self.state.branches else ""}
                       for t in self.trials],
            "cost": m.cost if m else 0.0,
            "tokens": (m.input_tokens + m.output_tokens) if m else 0,
            "calls": m.calls if m else 0,
            "cached": m.cached if m else 0,
        }


def task_of(options: RunOptions) -> str:
    """What the judge is told the task was: the recipe's description and the inputs it ran on."""
    recipe = recipes.load(options.recipe)
    values = recipe.with_inputs(options.inputs)
    inputs = "; ".join(f"{k} = {v}" for k, v in values.items())
    return f"{recipe.description or recipe.name}" + (f" Inputs: {inputs}." if inputs else "")


def _literal(text: str) -> str:
    """Text as a template that renders to itself: outputs are data, no brace in them is a variable."""
    return text.replace("{", "{{").replace("}", "}}")


def seed_of(outputs: Mapping[str, str]) -> int:
    """The letters and order depend on the outputs only: the same outputs give the same prompts (cache hits)."""
    digest = hashlib.sha256("\0".join(f"{k}\0{v}" for k, v in sorted(outputs.items())).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def judge_recipe(outputs: Mapping[str, str], task: str, trials: list[judging.Trial]):
    return from_data({
        "name": "judge",
        "description": "A blind pairwise comparison of the strategies' outputs, every pair in both orders.",
        "strategy": "parallel",
        "on_error": "continue",
        "defaults": {"max_tokens": 80, "temperature": 0.0},
        "branches": [{"id": t.id, "title": f"{t.labels[0]} vs {t.labels[1]}",
                      "prompt": _literal(judging.prompt(t, outputs, task))} for t in trials],
        "aggregate": {"kind": "concat"},
    }, "<judge>")


async def judge(outputs: Mapping[str, str], task: str, options: RunOptions, *, provider: str | None = None,
                model: str | None = None) -> JudgeRun:
    """`outputs`: strategy -> its final output. The judge runs on `provider`/`model` when given, else on the
    judged runs' own; the cache in the mode asked for, else the configured one (bench turns it off only for the
    runs it times: a judgement is no timing, and judging the same outputs twice should not cost twice)."""
    trials = judging.trials(sorted(outputs), seed_of(outputs))
    prepared = prepare_recipe(_options(options, provider, model), judge_recipe(outputs, task, trials))
    state = RunState()
    try:
        await execute(prepared, [state.apply])
    finally:
        await prepared.aclose()
    replies = {t.id: state.branches[t.id].text for t in trials if state.branches[t.id].status == "done"}
    return JudgeRun(judging.judgement(trials, replies), state, trials)


async def check_judge(options: RunOptions, *, provider: str | None = None, model: str | None = None) -> None:
    """A judge provider that does not exist or lacks its key is reported before the runs, not after them."""
    placeholder = {"x": "", "y": ""}
    prepared = prepare_recipe(_options(options, provider, model), judge_recipe(placeholder, "", judging.trials("xy", 0)))
    await prepared.aclose()


def _options(options: RunOptions, provider: str | None, model: str | None) -> RunOptions:
    """The judged runs' options for the judge: its own provider and model when given (an ad-hoc --base-url
    belongs to the runs' provider, not to another one), the recipe's own token limit and temperature, and no
    sources (it judges the outputs, it does not research)."""
    return replace(options, recipe="judge", strategy=None, inputs={}, max_tokens=None, temperature=None,
                   provider=provider or options.provider, model=model or options.model,
                   base_url=None if provider else options.base_url, search="off", sources=[])
