"""Where each call goes: the run's flags over the recipe's settings over the provider's configuration.

`--provider` or `--base-url` moves every call to that provider, with its own default model unless `--model`
names one; without them, a branch may name its own provider and model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from fanout.core.errors import UserError
from fanout.wiring.config import Config, ProviderConfig
from fanout.providers.base import Provider
from fanout.providers.batch import WINDOW as BATCH_WINDOW
from fanout.providers.local import DEFAULT_MODEL, model_file
from fanout.providers.registry import build
from fanout.strategies.calls import Target
from fanout.strategies.limits import ProviderLimiter
from fanout.strategies.recipe import CallSettings

from . import prices

ADHOC = "custom"
DEFAULT_MAX_TOKENS = 512


@dataclass
class Overrides:
    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    concurrency: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None


class Targets:
    def __init__(self, config: Config, overrides: Overrides | None = None) -> None:
        self.config = config
        self.overrides = overrides or Overrides()
        # An embedded provider is one model file in memory: one per (name, model). Any other is one per name.
        self._built: dict[tuple[str, str], tuple[Provider, ProviderConfig, ProviderLimiter]] = {}
        if self.overrides.base_url:
            self.config.providers[ADHOC] = ProviderConfig(
                ADHOC, "openai", self.overrides.model or "default", self.overrides.base_url, "OPENAI_API_KEY"
            )

    @property
    def forced(self) -> str | None:
        if self.overrides.base_url:
            return ADHOC
        return self.overrides.provider

    def default_provider(self) -> str:
        return self.forced or self.config.default_provider

    def label(self, recipe_default: CallSettings) -> tuple[str, str]:
        """The provider and model a run is known by (its aggregate's, which is its last word)."""
        target = self.resolve(recipe_default)
        return target.provider.name, target.model

    def provider(self, name: str, model: str | None = None,
                 origin: str = "") -> tuple[Provider, ProviderConfig, ProviderLimiter]:
        """The provider `name`, built once. Only the embedded kind depends on `model`: it loads that file, so it is
        built once per model (`origin` says where the model was named, for the message when no such file exists)."""
        pc = self.config.provider(name)
        if pc.kind == "local" and model:
            pc = replace(pc, model=model)
        key = (name, pc.model if pc.kind == "local" else "")
        if key not in self._built:
            if pc.kind == "local":
                _check_model_file(pc.model, origin or f"{self.config.source}: providers.{name}.model")
            limits = pc.limits
            if self.overrides.concurrency:
                limits = replace(limits, concurrency=self.overrides.concurrency)
            limits = replace(limits, prices=dict(limits.prices))  # prices resolved below stay with this run
            provider = build(
                name,
                pc.kind,
                model=pc.model,
                base_url=pc.base_url,
                api_key_env=pc.api_key_env,
                timeout=limits.timeout,
                concurrency=limits.concurrency,
                n_ctx=pc.n_ctx,
                key_optional=name == ADHOC,
            )
            limiter = ProviderLimiter(limits.concurrency, adaptive=limits.adaptive, rpm=limits.rpm, tpm=limits.tpm)
            self._built[key] = (provider, replace(pc, limits=limits), limiter)
        return self._built[key]

    def _entry(self, settings: CallSettings) -> tuple[str, tuple[Provider, ProviderConfig, ProviderLimiter]]:
        """The model these settings call and the provider built for it."""
        name = self.forced or settings.provider or self.config.default_provider
        recipe_model = None if self.forced else settings.model
        model = self.overrides.model or recipe_model or self.config.provider(name).model
        origin = "--model" if self.overrides.model else "the recipe's model" if recipe_model else ""
        return model, self.provider(name, model, origin)

    def resolve(self, settings: CallSettings) -> Target:
        o = self.overrides
        model, (provider, pc, limiter) = self._entry(settings)
        if model not in pc.limits.prices:
            found = prices.resolve(pc.name, pc.kind, pc.base_url, model, pc.limits.prices)
            if found is not None:
                pc.limits.prices[model] = found  # this run's copy of the limits: resolved once per model
        return Target(
            provider=provider,
            limits=pc.limits,
            limiter=limiter,
            model=model,
            temperature=o.temperature if o.temperature is not None else settings.temperature,
            max_tokens=o.max_tokens or settings.max_tokens or DEFAULT_MAX_TOKENS,
            context_tokens=pc.n_ctx if pc.kind == "local" else None,
        )

    def resolve_batch(self, settings: CallSettings) -> Target:
        """A call that goes in a provider batch: at the batch's prices, and as patient as a batch (its answer may
        take the provider's whole window; a request of a batch is never retried on its own)."""
        target = self.resolve(settings)
        pc = self._entry(settings)[1][1]
        rates = prices.batch_rates(pc.name, pc.kind, pc.base_url, target.model, pc.limits.prices, pc.batch_discount)
        wait = BATCH_WINDOW + 3600
        limits = replace(pc.limits, timeout=wait, stall_timeout=wait, max_retries=0,
                         prices={target.model: rates} if rates is not None else {})
        return replace(target, limits=limits)

    def config_of(self, settings: CallSettings) -> ProviderConfig:
        self.resolve(settings)  # its prices resolved
        return self._entry(settings)[1][1]

    def configs_in_use(self) -> list[ProviderConfig]:
        """The configurations of the providers this run's calls resolved to so far."""
        return [pc for _, pc, _ in self._built.values()]

    def secrets(self) -> list[str]:
        """Every API key value this run could know: what must never be written anywhere."""
        names = {pc.api_key_env for pc in self.config.providers.values() if pc.api_key_env}
        return sorted({os.environ[n] for n in names if os.environ.get(n)})

    async def warm(self) -> None:
        """Providers with a start-up cost (the embedded model) pay it before the run's clock starts."""
        for provider, _, _ in self._built.values():
            warm = getattr(provider, "warm", None)
            if warm is not None:
                await warm()

    async def aclose(self) -> None:
        for provider, _, _ in self._built.values():
            await provider.aclose()
        self._built.clear()


def _check_model_file(model: str, origin: str) -> None:
    """The embedded provider's model is its shipped default or a path to a GGUF file: a path with no file is the
    user's input at fault, reported before the run (exit 2) rather than as every branch failing."""
    path = model_file(model)
    if path is not None and not path.is_file():
        raise UserError(f"{origin} {model}: no GGUF file at {path}; the embedded provider takes "
                        f"`{DEFAULT_MODEL}` (the shipped SmolLM2-135M) or a path to a .gguf file")
