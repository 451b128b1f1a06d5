"""The user's configuration: providers, their limits and prices, the cache, the keymap.

Read from `$FANOUT_CONFIG`, else `$FANOUT_HOME/config.toml`, else the platform's config directory. With no file
at all fanout still works: the built-in providers are the embedded model (the default), `openai` and
`anthropic`, whose keys come from OPENAI_API_KEY and ANTHROPIC_API_KEY.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fanout.core.errors import UserError
from fanout.core.toml_fields import Fields
from fanout.core.paths import config_file
from fanout.providers.base import Limits, Prices

KINDS = ("local", "openai", "anthropic")


@dataclass
class ProviderConfig:
    name: str
    kind: str
    model: str
    base_url: str = ""
    api_key_env: str = ""
    limits: Limits = field(default_factory=Limits)
    n_ctx: int = 4096


@dataclass
class CacheConfig:
    mode: str = "use"
    size_limit_mb: int = 1024


@dataclass
class Config:
    source: str
    default_provider: str
    providers: dict[str, ProviderConfig]
    cache: CacheConfig = field(default_factory=CacheConfig)
    keymap: dict[str, str] = field(default_factory=dict)

    def provider(self, name: str) -> ProviderConfig:
        if name not in self.providers:
            known = ", ".join(sorted(self.providers))
            raise UserError(f"unknown provider {name!r} (configured: {known}; see {self.source})")
        return self.providers[name]


def builtin_providers() -> dict[str, ProviderConfig]:
    return {
        "local": ProviderConfig("local", "local", "smollm2", limits=Limits(concurrency=2, timeout=120, stall_timeout=60)),
        "openai": ProviderConfig(
            "openai",
            "openai",
            "gpt-4o-mini",
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            limits=Limits(concurrency=8, prices={"gpt-4o-mini": Prices(0.15, 0.60), "gpt-4o": Prices(2.50, 10.00)}),
        ),
        "anthropic": ProviderConfig(
            "anthropic",
            "anthropic",
            "claude-haiku-4-5",
            base_url="https://api.anthropic.com",
            api_key_env="ANTHROPIC_API_KEY",
            limits=Limits(concurrency=8, prices={"claude-haiku-4-5": Prices(1.00, 5.00)}),
        ),
    }


def load(path: Path | None = None) -> Config:
    path = path or config_file()
    if not path.exists():
        return Config(str(path), "local", builtin_providers())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read ({err})") from None
    return parse(text, str(path))


def parse(text: str, source: str) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{source}: invalid TOML: {err}") from None
    return from_data(data, source)


_LIMIT_NUMBERS = {
    "concurrency": (1, 10_000, True),
    "rpm": (1, 10_000_000, True),
    "tpm": (1, 1_000_000_000, True),
    "timeout": (0.1, 3600, False),
    "stall_timeout": (0.1, 3600, False),
    "max_retries": (0, 100, True),
    "max_retry_after": (0, 86_400, False),
    "backoff_base": (0, 600, False),
    "backoff_max": (0, 3600, False),
}


def from_data(data: dict[str, Any], source: str) -> Config:
    top = Fields(data, "", source)
    top.only({"default_provider", "providers", "cache", "keymap"})
    providers = builtin_providers()
    table = Fields(data.get("providers", {}), "providers", source).table
    for name, raw in table.items():
        providers[name] = _provider(name, raw, providers.get(name), source)
    default = top.str("default_provider", "local")
    if default not in providers:
        raise top.fail("default_provider", f"names no provider ({', '.join(sorted(providers))})")
    cache_f = Fields(data.get("cache", {}), "cache", source)
    cache_f.only({"mode", "size_limit_mb"})
    cache = CacheConfig(
        mode=cache_f.str("mode", "use", choices=("use", "refresh", "off", "only")),
        size_limit_mb=cache_f.number("size_limit_mb", lo=1, hi=10_000_000, integer=True) or 1024,
    )
    keymap_f = Fields(data.get("keymap", {}), "keymap", source)
    keymap = {k: keymap_f.str(k) for k in keymap_f.table}
    return Config(source, default, providers, cache, keymap)


def _provider(name: str, raw: Any, base: ProviderConfig | None, source: str) -> ProviderConfig:
    f = Fields(raw, f"providers.{name}", source)
    f.only({"kind", "model", "base_url", "api_key_env", "adaptive", "prices", "n_ctx", *_LIMIT_NUMBERS})
    kind = f.str("kind", base.kind if base else None, choices=KINDS)
    if base is not None and base.kind != kind:
        base = None
    limits = Limits(**vars(base.limits)) if base else Limits()
    for key, (lo, hi, integer) in _LIMIT_NUMBERS.items():
        value = f.number(key, lo=lo, hi=hi, integer=integer)
        if value is not None:
            setattr(limits, key, value)
    limits.adaptive = f.boolean("adaptive", limits.adaptive)
    prices_f = Fields(f.table.get("prices", {}), f"providers.{name}.prices", source)
    prices = dict(limits.prices)
    for model, entry in prices_f.table.items():
        pf = Fields(entry, f"providers.{name}.prices.{model}", source)
        pf.only({"input", "output"})
        prices[model] = Prices(pf.number("input", lo=0, hi=1e6) or 0.0, pf.number("output", lo=0, hi=1e6) or 0.0)
    limits.prices = prices
    model = f.str("model", base.model if base else ("smollm2" if kind == "local" else None))
    base_url = f.str("base_url", base.base_url if base else "")
    if kind != "local" and not base_url and kind == "openai" and base is None:
        raise f.fail("base_url", "is required for an openai-kind provider")
    api_key_env = f.str("api_key_env", base.api_key_env if base else "")
    n_ctx = f.number("n_ctx", lo=256, hi=1_000_000, integer=True) or (base.n_ctx if base else 4096)
    return ProviderConfig(name, kind, model, base_url, api_key_env, limits, n_ctx)
