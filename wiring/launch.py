"""Starting a run, the same way for every front end: options in, a validated RunSpec out, events recorded."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from fanout.wiring import config as config_mod
from fanout.stores.cache import ResponseCache
from fanout.stores.cache_modes import MODES
from fanout.core.errors import UserError
from fanout.core.paths import cache_dir
from fanout.providers.embedded_check import ensure_embedded_works
from fanout.core.urls import base_url_problem
from fanout.stores.sessions import Recorder, new_header, session_path
from fanout.strategies import recipe as recipes
from fanout.strategies.control import RunControl
from fanout.strategies.engine import Engine, RunSpec
from fanout.strategies.events import BranchMetrics, Event
from fanout.strategies.plan import parse_plan
from fanout.strategies.planner import PlanOutcome
from fanout.frontends.state import RunState
from fanout.wiring.inputs import read_file_inputs
from fanout.wiring.routing import Overrides, Targets


@dataclass
class RunOptions:
    recipe: str = "research"
    strategy: str | None = None
    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    concurrency: int | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    max_tokens: int | None = None
    temperature: float | None = None
    on_error: str | None = None
    cache: str | None = None  # use | refresh | off | only; None: the config's
    depth: int | None = None  # a planned recipe's waves; None: the recipe's [plan] depth

    def check(self) -> None:
        if self.concurrency is not None and self.concurrency < 1:
            raise UserError(f"--concurrency must be at least 1, not {self.concurrency}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise UserError(f"--max-tokens must be at least 1, not {self.max_tokens}")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise UserError(f"--temperature must be between 0 and 2, not {self.temperature}")
        if self.base_url is not None and (problem := base_url_problem(self.base_url)):
            raise UserError(f"--base-url: {problem}")
        if self.depth is not None and not 1 <= self.depth <= recipes.MAX_DEPTH:
            raise UserError(f"--depth must be between 1 and {recipes.MAX_DEPTH}, not {self.depth}")

    def deepened(self, recipe: recipes.Recipe) -> recipes.Recipe:
        """The recipe with --depth over its [plan] depth; --depth on a recipe that plans nothing is a mistake."""
        if self.depth is None:
            return recipe
        if recipe.plan is None:
            raise UserError(f"--depth {self.depth}: recipe {recipe.name!r} has no [plan] table, so it has no waves "
                            "to go deeper with (deep-research has one)")
        return replace(recipe, plan=replace(recipe.plan, depth=self.depth))

    def recorded(self) -> dict:
        """What a session keeps of the flags, so `fanout resume` goes on with the same ones (the recipe and its
        inputs are kept whole beside them)."""
        return {k: v for k, v in asdict(self).items() if k not in ("recipe", "inputs") and v is not None}


@dataclass
class Prepared:
    spec: RunSpec
    targets: Targets
    options: RunOptions
    cache: ResponseCache
    resumes: Path | None = None  # the session file this run goes on in (`fanout resume`)

    async def aclose(self) -> None:
        await self.targets.aclose()
        self.cache.close()

    def again(self, strategy: str | None = None) -> "Prepared":
        """The same recipe and inputs, a fresh session (optionally under another strategy)."""
        spec = replace(self.spec, strategy=strategy or self.spec.strategy, session_id=RunSpec.new_id(),
                       plan_only=False)
        return Prepared(spec, self.targets, self.options, self.cache)

    @property
    def planned(self) -> bool:
        return self.spec.recipe.plan is not None

    def planning(self) -> "Prepared":
        """A run that only makes the plan: compare and bench make it once and give it to every strategy."""
        spec = replace(self.spec, session_id=RunSpec.new_id(), plan=None, plan_only=True)
        return Prepared(spec, self.targets, self.options, self.cache)

    def with_plan(self, planning: RunState) -> "Prepared":
        """Runs from now on reuse the plan `planning` made (read back from its text: parsing is deterministic,
        so every strategy runs exactly the branches the planner's run showed)."""
        plan, recipe = planning.plan, self.spec.recipe
        if plan is None or plan.error or recipe.plan is None or plan.lane.metrics is None:
            raise ValueError("no plan to reuse")
        return self.reusing_plan(plan.text, plan.lane.metrics)

    def reusing_plan(self, text: str, metrics: BranchMetrics) -> "Prepared":
        """Runs the plan in a planner's `text` instead of asking for one (raises PlanError if it holds none)."""
        recipe = self.spec.recipe
        assert recipe.plan is not None
        parsed = parse_plan(text, recipe.plan, {b.id for b in recipe.branches})
        outcome = PlanOutcome(parsed, text, metrics)
        return Prepared(replace(self.spec, plan=outcome, plan_only=False), self.targets, self.options, self.cache)


def prepare(options: RunOptions, declared: recipes.Recipe | None = None) -> Prepared:
    """Everything a run needs, checked before anything starts: recipe, inputs, config, providers and keys.
    `declared`: the recipe itself (a session's, when resuming) instead of loading `options.recipe`."""
    options.check()  # a bad flag is reported before the recipe is read
    return prepare_recipe(options, declared or recipes.load(options.recipe))


def prepare_recipe(options: RunOptions, declared: recipes.Recipe) -> Prepared:
    """`prepare` for a recipe already in hand (one built in code, such as the judge's)."""
    options.check()
    cfg = config_mod.load()
    values = declared.with_inputs(read_file_inputs(options.inputs, cfg.inputs.max_file_bytes))
    # Voters, batch items, sections and files: a bad items file or document is reported now.
    recipe = options.deepened(recipes.expand(declared, values, max_file_bytes=cfg.inputs.max_file_bytes))
    targets = Targets(
        cfg,
        Overrides(
            provider=options.provider,
            model=options.model,
            base_url=options.base_url,
            concurrency=options.concurrency,
            max_tokens=options.max_tokens,
            temperature=options.temperature,
        ),
    )
    for branch in recipe.branches:  # a missing key or an unknown provider is reported now, not mid-run
        targets.resolve(branch.settings)
    if recipe.plan is not None:  # the planner, and the branches it will plan
        targets.resolve(recipe.plan.settings)
        targets.resolve(recipe.plan.branch_settings)
    provider, model = targets.label(recipe.aggregate.settings)
    mode = options.cache or cfg.cache.mode
    if mode not in MODES:
        raise UserError(f"--cache must be one of {', '.join(MODES)}, not {mode!r}")
    if mode != "only":  # offline replays from the cache never load a model
        for pc in targets.configs_in_use():
            if pc.kind == "local":
                ensure_embedded_works(pc.model, cache_dir())
    cache = ResponseCache(mode, size_limit_mb=cfg.cache.size_limit_mb)
    spec = RunSpec(
        recipe=recipe,
        values=values,
        strategy=options.strategy or recipe.strategy,
        resolve=targets.resolve,
        provider_label=provider,
        model_label=model,
        on_error=options.on_error,
        source=cache,
    )
    return Prepared(spec, targets, options, cache)


@dataclass
class Executed:
    """How a run was kept: its session file, or why it could not be (kept whole) there."""

    session: Path | None
    error: str = ""  # "": saved; else the path and the reason, e.g. "…/x.jsonl: No space left on device"


def warn(message: str) -> None:
    print(f"fanout: warning: {message}", file=sys.stderr)


def open_recorder(prepared: Prepared, on_error: Callable[[str], None]) -> tuple[Recorder | None, str]:
    """The session's recorder, or None and why not: a session that cannot be written never stops the run."""
    spec, secrets = prepared.spec, prepared.targets.secrets()
    try:
        if prepared.resumes is not None:
            return Recorder.reopen(prepared.resumes, secrets, on_error=on_error), ""
        header = new_header(spec, prepared.options.recorded())
        return Recorder(header, secrets=secrets, on_error=on_error), ""
    except OSError as err:
        where = err.filename or prepared.resumes or session_path(spec.session_id)
        return None, f"{where}: {err.strerror or err}"


async def execute(
    prepared: Prepared,
    handlers: Sequence[Callable[[Event], None]],
    *,
    record: bool = True,
    on_engine: Callable[[RunControl], None] | None = None,
    on_store_error: Callable[[str], None] = lambda m: warn(f"the session is not being saved: {m}"),
) -> Executed:
    """Runs it, feeding every event to the recorder first (so nothing is lost) and then to each front end.
    A session that cannot be opened or written is reported once through `on_store_error`; the run goes on."""
    await prepared.targets.warm()
    engine = Engine(prepared.spec)
    if on_engine is not None:
        on_engine(engine)
    recorder, error = open_recorder(prepared, on_store_error) if record else (None, "")
    if error:
        on_store_error(error)
    sinks = ([recorder] if recorder else []) + list(handlers)
    try:
        async for event in engine.events():
            for sink in sinks:
                sink(event)
    finally:
        if recorder:
            recorder.close()
    if not record:
        return Executed(None)
    return Executed(recorder.path if recorder else None, error or (recorder.error if recorder else ""))
