"""Which adapter serves which provider kind: a table of the built-in kinds, plus any package that registers one
under the `fanout.providers` entry-point group (as `llm` plugins do), so a provider can ship separately.

A factory is called as `factory(spec)` with a `ProviderSpec` and returns a `Provider`. API keys are read here,
from the environment only, and handed to the adapter; they are never stored anywhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib import import_module, metadata
from typing import Callable, Mapping

from fanout.core.errors import UserError

from .base import Provider

ENTRY_POINT_GROUP = "fanout.providers"


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    model: str
    base_url: str = ""
    api_key: str = ""  # from the environment, "" when the provider needs none
    timeout: float = 60.0
    concurrency: int = 4
    n_ctx: int = 4096


def _local(spec: ProviderSpec) -> Provider:
    from .local import LocalProvider

    # The configured concurrency (DEFAULT_SEQUENCES unless set) becomes the sequences its one context holds.
    return LocalProvider(spec.name, model=spec.model, concurrency=spec.concurrency, n_ctx=spec.n_ctx)


def _openai(spec: ProviderSpec) -> Provider:
    from .openai_compat import OpenAIProvider

    return OpenAIProvider(spec.name, model=spec.model, base_url=spec.base_url, api_key=spec.api_key,
                          timeout=spec.timeout, concurrency=spec.concurrency)


def _anthropic(spec: ProviderSpec) -> Provider:
    from .anthropic_api import AnthropicProvider

    return AnthropicProvider(spec.name, model=spec.model, base_url=spec.base_url, api_key=spec.api_key,
                             timeout=spec.timeout, concurrency=spec.concurrency)


Factory = Callable[[ProviderSpec], Provider]
BUILTIN: dict[str, Factory] = {"local": _local, "openai": _openai, "anthropic": _anthropic}
NEEDS_KEY = {"openai", "anthropic"}  # kinds whose SDK insists on some key, even for a server that takes any


@cache
def _plugins() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN}


def kinds() -> tuple[str, ...]:
    return tuple(BUILTIN) + tuple(sorted(_plugins()))


def factory(kind: str) -> Factory:
    if kind in BUILTIN:
        return BUILTIN[kind]
    ep = _plugins().get(kind)
    if ep is None:
        raise UserError(f"unknown provider kind {kind!r} ({', '.join(kinds())})")
    module, _, attr = ep.value.partition(":")
    try:
        return getattr(import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise UserError(f"provider kind {kind!r}: its plugin {ep.value!r} cannot be loaded ({err})") from None


def build(
    name: str,
    kind: str,
    *,
    model: str,
    base_url: str = "",
    api_key_env: str = "",
    timeout: float = 60.0,
    concurrency: int = 4,
    n_ctx: int = 4096,
    key_optional: bool = False,
    env: Mapping[str, str] | None = None,
) -> Provider:
    env = os.environ if env is None else env
    make = factory(kind)
    api_key = env.get(api_key_env, "") if api_key_env else ""
    if not api_key and api_key_env and not key_optional:
        raise UserError(f"provider {name!r} needs an API key: set {api_key_env} in the environment")
    if not api_key and kind in NEEDS_KEY:
        api_key = "none"  # a local OpenAI-compatible server takes any key, but the SDKs insist on one
    return make(ProviderSpec(name, model, base_url, api_key, timeout, concurrency, n_ctx))
