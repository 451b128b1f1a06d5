"""Builds a provider adapter from its configuration. API keys are read here, from the environment only."""

from __future__ import annotations

import os
from typing import Mapping

from fanout.core.errors import UserError

from .base import Provider


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
    if kind == "local":
        from .local import LocalProvider

        return LocalProvider(name, model=model, concurrency=concurrency, n_ctx=n_ctx)
    api_key = env.get(api_key_env, "") if api_key_env else ""
    if not api_key:
        if api_key_env and not key_optional:
            raise UserError(f"provider {name!r} needs an API key: set {api_key_env} in the environment")
        # A local OpenAI-compatible server takes any key, but the SDKs insist on one.
        api_key = "none"
    if kind == "openai":
        from .openai_compat import OpenAIProvider

        return OpenAIProvider(
            name, model=model, base_url=base_url, api_key=api_key, timeout=timeout, concurrency=concurrency
        )
    if kind == "anthropic":
        from .anthropic_api import AnthropicProvider

        return AnthropicProvider(
            name, model=model, base_url=base_url, api_key=api_key, timeout=timeout, concurrency=concurrency
        )
    raise UserError(f"provider {name!r}: unknown kind {kind!r} (local, openai, anthropic)")
