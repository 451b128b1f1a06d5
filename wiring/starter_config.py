"""`fanout config init`: a starter config written with tomli-w from the built-in providers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from fanout.wiring.config import builtin_providers
from fanout.core.errors import UserError
from fanout.core.paths import private_dir

HEADER = """\
# fanout configuration. Every key is documented in config.example.toml in fanout's repository.
# API keys are never written here: each provider names the environment variable that holds its key.
"""


def starter() -> dict[str, Any]:
    providers: dict[str, Any] = {}
    for name, pc in builtin_providers().items():
        entry: dict[str, Any] = {"kind": pc.kind, "model": pc.model, "concurrency": pc.limits.concurrency}
        if pc.base_url:
            entry["base_url"] = pc.base_url
        if pc.api_key_env:
            entry["api_key_env"] = pc.api_key_env
        if pc.limits.prices:
            entry["prices"] = {m: {"input": p.input, "output": p.output,
                                   **({"searches": p.searches} if p.searches is not None else {})}
                               for m, p in pc.limits.prices.items()}
        providers[name] = entry
    return {"default_provider": "local", "providers": providers, "cache": {"mode": "use", "size_limit_mb": 1024}}


def write_starter(path: Path, *, force: bool = False) -> Path:
    if path.exists() and not force:
        raise UserError(f"{path} already exists (use --force to overwrite it)")
    private_dir(path.parent)
    path.write_text(HEADER + tomli_w.dumps(starter()), encoding="utf-8")
    path.chmod(0o600)
    return path
