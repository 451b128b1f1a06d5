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
from fanout.strategies.batching import MODES as BATCH_MODES, BatchSpec
from fanout.strategies.budget import Budget
from fanout.strategies.control import RunControl
from fanout.strategies.engine import Engine, RunSpec
from fanout.strategies.events import BranchMetrics, Event
from fanout.strategies.plan import parse_plan
from fanout.strategies.planner import PlanOutcome
from fanout.frontends.state import RunState
from fanout.wiring.inputs import read_file_inputs
from fanout.wiring.routing import ADHOC, Overrides, Targets
from fanout.wiring.sources import Corpus, check_web, corpus_paths, open_corpus, wants_web


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
    budget: float | None = None  # US dollars the run may spend; None: the recipe's, else the config's
    batch: str | None = None  # provider batches: "first" (the steps that wait on nothing), "all"; None: the recipe's
    search: str | None = None  # "web" | "off": the providers' own web search; None: the recipe's [search] web
    sources: list[str] = field(default_factory=list)  # the user's files, folders or globs (--sources, repeatable)
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
        if self.budget is not None and not self.budget > 0:
            raise UserError(f"--budget must be more than 0 (US dollars), not {self.budget:g}")
        if self.batch is not None and self.batch not in BATCH_MODES:
            raise UserError(f"--batch must be one of {', '.join(BATCH_MODES)}, not {self.batch!r}")
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
        return {k: v for k, v in asdict(self).items() if k not in ("recipe", "inputs") and v not in (None, [])}


@dataclass
class Prepared:
    spec: RunSpec
    targets: Targets
    options: RunOptions
    cache: ResponseCache
    resumes: Path | None = None  # the session file this run goes on in (`fanout resume`)
    corpus: Corpus | None = None  # the user's files (`--sources`, the recipe's), indexed
    comparison: str = ""  # the comparison its runs belong to (`comparing`), kept in each session's header

    async def aclose(self) -> None:
        await self.targets.aclose()
        self.cache.close()
        if self.corpus is not None:
            self.corpus.close()

    def again(self, strategy: str | None = None) -> "Prepared":
        """The same recipe and inputs, a fresh session (optionally under another strategy)."""
        spec = replace(self.spec, strategy=strategy or self.spec.strategy, session_id=RunSpec.new_id(),
                       plan_only=False)
        return replace(self, spec=spec, resumes=None)

    def comparing(self) -> "Prepared":
        """The same run, its sessions from now on one comparison's: `again` and `planning` keep the id."""
        return replace(self, comparison="compare-" + RunSpec.new_id())

    @property
    def planned(self) -> bool:
        return self.spec.recipe.plan is not None

    def planning(self) -> "Prepared":
        """A run that only makes the plan: compare and bench make it once and give it to every strategy."""
        spec = replace(self.spec, session_id=RunSpec.new_id(), plan=None, plan_only=True)
        return replace(self, spec=spec, resumes=None)

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
        return replace(self, spec=replace(self.spec, plan=outcome, plan_only=False))


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
    for settings in call_settings(recipe):  # a missing key or an unknown provider is reported now, not mid-run
        targets.resolve(settings)
    provider, model = targets.label(recipe.aggregate.settings)
    budgets = [("--budget", options.budget), (f"{declared.source}: budget", declared.budget),
               (f"{cfg.source}: cost.budget", cfg.cost.budget)]
    said, budget = next(((w, b) for w, b in budgets if b is not None), ("", None))
    if budget is not None:
        require_prices(targets, call_settings(recipe), f"{said} {budget:g}", cfg.source)
    web = wants_web(options.search, recipe)
    if web:
        check_web(targets, recipe, "--search web" if options.search else f"{recipe.source}: [search] web = true")
    mode = options.cache or cfg.cache.mode
    if mode not in MODES:
        raise UserError(f"--cache must be one of {', '.join(MODES)}, not {mode!r}")
    if mode != "only":  # offline replays from the cache never load a model
        for pc in targets.configs_in_use():
            if pc.kind == "local":
                ensure_embedded_works(pc.model, cache_dir())
    # The recipe's sources are kept with the flags' as absolute paths: `fanout resume` finds the same files.
    options = replace(options, sources=corpus_paths(options.sources, recipe))
    corpus = open_corpus(options.sources)
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
        budget=Budget(budget) if budget is not None else None,
        batch=batch_spec(options.batch or ("first" if declared.batch else None), targets, recipe),
        web_search=recipe.search.max_uses if web else 0,
        retrieve=corpus.retrieve if corpus is not None else None,
        top_k=recipe.search.top_k,
    )
    return Prepared(spec, targets, options, cache, corpus=corpus)


def batch_spec(mode: str | None, targets: Targets, recipe: recipes.Recipe) -> BatchSpec | None:
    """Provider batches, if asked for: every provider a batched step may go to must have a batch API."""
    if mode is None:
        return None
    steps = [b.settings for b in recipe.branches]
    if recipe.plan is not None:
        steps.append(recipe.plan.branch_settings)
    configs = {pc.name: pc for pc in (targets.config_of(s) for s in steps)}
    for pc in configs.values():
        if not pc.batches or pc.kind not in ("openai", "anthropic"):
            raise UserError(f"--batch: provider {pc.name!r} cannot take a batch (batch_api = false: batches are "
                            "OpenAI's Batch API and Anthropic's Message Batches; set batch_api = true under "
                            f"[providers.{pc.name}] for a server that has one)")
    return BatchSpec(mode, targets.resolve_batch, poll=min(pc.batch_poll for pc in configs.values()))


def call_settings(recipe: recipes.Recipe) -> list[recipes.CallSettings]:
    """Where every call of the run goes: each branch, the planner and what it plans, the aggregate."""
    plan = [recipe.plan.settings, recipe.plan.branch_settings] if recipe.plan is not None else []
    return [b.settings for b in recipe.branches] + plan + [recipe.aggregate.settings]


def require_prices(targets: Targets, settings: list[recipes.CallSettings], budget: str, config: str) -> None:
    """A budget is kept in money: every model the run may call needs a known price, or the run does not start."""
    for s in settings:
        target = targets.resolve(s)
        if target.prices(target.model) is not None:
            continue
        name, model = target.provider.name, target.model
        where = (f"set [providers.{name}.prices.\"{model}\"] input = ..., output = ... (US dollars per million "
                 f"tokens) in {config}" if name != ADHOC else
                 f"--base-url servers have no prices: configure the server as a provider in {config} with "
                 f"[providers.NAME.prices.\"{model}\"] and run with --provider NAME")
        raise UserError(f"{budget}: no price is known for model {model!r} of provider {name!r}, so the "
                        f"budget cannot be kept; {where}")


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
        header = new_header(spec, prepared.options.recorded(), prepared.comparison)
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
