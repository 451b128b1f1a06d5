"""The user's configuration: providers, their limits and prices, the cache, the keymap.

Read from `$FANOUT_CONFIG`, else `$FANOUT_HOME/config.toml`, else the platform's config directory. With no file
at all fanout still works: the built-in providers are the embedded model (the default), `openai` and
`anthropic`, whose keys come from OPENAI_API_KEY and ANTHROPIC_API_KEY.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fanout.core.errors import UserError
from fanout.core.files import DEFAULT_MAX_FILE_BYTES
from fanout.core.paths import config_file
from fanout.core.validation import parse_toml, read_toml, validate
from fanout.providers.base import Limits, Prices
from fanout.providers.local import DEFAULT_SEQUENCES

from fanout.providers import registry

from .config_schema import LIMIT_KEYS, ConfigFile, CostTable, ProviderTable

BATCH_DISCOUNT = 0.5  # both providers' batch APIs today: half price
BATCH_POLL = 60.0  # seconds between looks at a batch, at most (the first looks come sooner)


OPENAI_HOST = "api.openai.com"  # OpenAI's own endpoint: the OpenAI-compatible server that searches the web


@dataclass
class ProviderConfig:
    name: str
    kind: str
    model: str
    base_url: str = ""
    api_key_env: str = ""
    limits: Limits = field(default_factory=Limits)
    n_ctx: int = 4096
    batch_api: bool | None = None  # None: the default for its kind and endpoint (`batches`)
    batch_discount: float = BATCH_DISCOUNT
    batch_poll: float = BATCH_POLL

    @property
    def batches(self) -> bool:
        """Can it take a provider batch: said in the config, else the anthropic kind and OpenAI's own endpoint."""
        if self.batch_api is not None:
            return self.batch_api
        return self.kind == "anthropic" or (self.kind == "openai" and "//api.openai.com" in self.base_url)
    web_search: bool | None = None  # None: the kind's default (`searches_web`)

    @property
    def searches_web(self) -> bool:
        """Whether its calls may use the provider's own web search: Anthropic's API and OpenAI's own endpoint can;
        other OpenAI-compatible servers and the embedded model cannot, unless the config says so."""
        if self.web_search is not None:
            return self.web_search
        if self.kind == "anthropic":
            return True
        return self.kind == "openai" and urlsplit(self.base_url).hostname == OPENAI_HOST


@dataclass
class CacheConfig:
    mode: str = "use"
    size_limit_mb: int = 1024


@dataclass
class InputsConfig:
    max_file_mb: float = DEFAULT_MAX_FILE_BYTES / (1024 * 1024)  # the largest file an input (`@path`) may read

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


@dataclass
class Config:
    source: str
    default_provider: str
    providers: dict[str, ProviderConfig]
    cache: CacheConfig = field(default_factory=CacheConfig)
    keymap: dict[str, str] = field(default_factory=dict)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    cost: CostTable = field(default_factory=CostTable)

    def provider(self, name: str) -> ProviderConfig:
        if name not in self.providers:
            known = ", ".join(sorted(self.providers))
            raise UserError(f"unknown provider {name!r} (configured: {known}; see {self.source})")
        return self.providers[name]


def builtin_providers() -> dict[str, ProviderConfig]:
    return {
        # The embedded model's concurrency is the number of sequences its one context decodes together.
        "local": ProviderConfig(
            "local", "local", "smollm2", limits=Limits(concurrency=DEFAULT_SEQUENCES, timeout=120, stall_timeout=60)
        ),
        "openai": ProviderConfig(
            "openai",
            "openai",
            "gpt-4o-mini",
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            limits=Limits(concurrency=8),  # prices: genai-prices (wiring/prices.py), unless the config sets some
        ),
        "anthropic": ProviderConfig(
            "anthropic",
            "anthropic",
            "claude-haiku-4-5",
            base_url="https://api.anthropic.com",
            api_key_env="ANTHROPIC_API_KEY",
            limits=Limits(concurrency=8),
        ),
    }


def load(path: Path | None = None) -> Config:
    explicit = path is None and bool(os.environ.get("FANOUT_CONFIG"))
    path = path or config_file()
    if not path.exists():
        if explicit:  # asked for by name: a typo must not silently fall back to the built-in defaults
            raise UserError(f"FANOUT_CONFIG names {path}, which does not exist (`fanout config init` writes one)")
        return Config(str(path), "local", builtin_providers())
    _, data = read_toml(path)
    return from_data(data, str(path))


def parse(text: str, source: str) -> Config:
    return from_data(parse_toml(text, source), source)


def from_data(data: dict[str, Any], source: str) -> Config:
    f = validate(ConfigFile, data, source)
    providers = builtin_providers()
    for name, table in f.providers.items():
        providers[name] = _provider(name, table, providers.get(name), source)
    if f.default_provider not in providers:
        raise UserError(f"{source}: default_provider: names no provider ({', '.join(sorted(providers))})")
    cache = CacheConfig(mode=f.cache.mode, size_limit_mb=f.cache.size_limit_mb)
    return Config(source, f.default_provider, providers, cache, dict(f.keymap), InputsConfig(f.inputs.max_file_mb),
                  f.cost)


def _provider(name: str, t: ProviderTable, base: ProviderConfig | None, source: str) -> ProviderConfig:
    kind = t.kind or (base.kind if base else None)
    if kind is None:
        raise UserError(f"{source}: providers.{name}.kind: is required (one of {', '.join(registry.kinds())})")
    if base is not None and base.kind != kind:
        base = None  # a built-in name redefined as another kind starts from scratch
    limits = replace(base.limits) if base else Limits()
    for key in LIMIT_KEYS:
        value = getattr(t, key)
        if value is not None:
            setattr(limits, key, value)
    limits.prices = {**limits.prices, **{m: Prices(p.input, p.output, p.searches) for m, p in t.prices.items()}}
    model = t.model or (base.model if base else ("smollm2" if kind == "local" else None))
    if model is None:
        raise UserError(f"{source}: providers.{name}.model: is required")
    base_url = t.base_url if t.base_url is not None else (base.base_url if base else "")
    if kind == "openai" and not base_url and base is None:
        raise UserError(f"{source}: providers.{name}.base_url: is required for an openai-kind provider")
    api_key_env = t.api_key_env if t.api_key_env is not None else (base.api_key_env if base else "")
    n_ctx = t.n_ctx or (base.n_ctx if base else 4096)
    batch = (t.batch_api if t.batch_api is not None else (base.batch_api if base else None),
             t.batch_discount if t.batch_discount is not None else (base.batch_discount if base else BATCH_DISCOUNT),
             t.batch_poll if t.batch_poll is not None else (base.batch_poll if base else BATCH_POLL))
    web_search = t.web_search if t.web_search is not None else (base.web_search if base else None)
    return ProviderConfig(name, kind, model, base_url, api_key_env, limits, n_ctx, *batch, web_search)
