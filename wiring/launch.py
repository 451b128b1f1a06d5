"""Starting a run, the same way for every front end: options in, a validated RunSpec out, events recorded."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from fanout.wiring import config as config_mod
from fanout.stores.cache import ResponseCache
from fanout.stores.cache_modes import MODES
from fanout.core.errors import UserError
from fanout.core.paths import cache_dir
from fanout.providers.embedded_check import ensure_embedded_works
from fanout.stores.sessions import Recorder, new_header
from fanout.strategies import recipe as recipes
from fanout.strategies.control import RunControl
from fanout.strategies.engine import Engine, RunSpec
from fanout.strategies.events import Event
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

    def check(self) -> None:
        if self.concurrency is not None and self.concurrency < 1:
            raise UserError(f"--concurrency must be at least 1, not {self.concurrency}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise UserError(f"--max-tokens must be at least 1, not {self.max_tokens}")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise UserError(f"--temperature must be between 0 and 2, not {self.temperature}")


@dataclass
class Prepared:
    spec: RunSpec
    targets: Targets
    options: RunOptions
    cache: ResponseCache

    async def aclose(self) -> None:
        await self.targets.aclose()
        self.cache.close()

    def again(self, strategy: str | None = None) -> "Prepared":
        """The same recipe and inputs, a fresh session (optionally under another strategy)."""
        spec = replace(self.spec, strategy=strategy or self.spec.strategy, session_id=RunSpec.new_id())
        return Prepared(spec, self.targets, self.options, self.cache)


def prepare(options: RunOptions) -> Prepared:
    """Everything a run needs, checked before anything starts: recipe, inputs, config, providers and keys."""
    options.check()  # a bad flag is reported before the recipe is read
    return prepare_recipe(options, recipes.load(options.recipe))


def prepare_recipe(options: RunOptions, declared: recipes.Recipe) -> Prepared:
    """`prepare` for a recipe already in hand (one built in code, such as the judge's)."""
    options.check()
    cfg = config_mod.load()
    values = declared.with_inputs(read_file_inputs(options.inputs, cfg.inputs.max_file_bytes))
    # Voters, batch items, sections and files: a bad items file or document is reported now.
    recipe = recipes.expand(declared, values, max_file_bytes=cfg.inputs.max_file_bytes)
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


async def execute(
    prepared: Prepared,
    handlers: Sequence[Callable[[Event], None]],
    *,
    record: bool = True,
    on_engine: Callable[[RunControl], None] | None = None,
) -> Engine:
    """Runs it, feeding every event to the recorder first (so nothing is lost) and then to each front end."""
    await prepared.targets.warm()
    engine = Engine(prepared.spec)
    if on_engine is not None:
        on_engine(engine)
    recorder = Recorder(new_header(prepared.spec), secrets=prepared.targets.secrets()) if record else None
    sinks = ([recorder] if recorder else []) + list(handlers)
    try:
        async for event in engine.events():
            for sink in sinks:
                sink(event)
    finally:
        if recorder:
            recorder.close()
    return engine
