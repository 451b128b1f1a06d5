"""The config file's tables as pydantic models: every key, its type, bounds and choices, declared once.

`config.py` lays these over the built-in providers; `fanout config schema` prints their JSON schema for editors.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import Field, field_validator

from fanout.core.urls import base_url_problem
from fanout.core.files import DEFAULT_MAX_FILE_BYTES
from fanout.core.validation import Table
from fanout.providers import registry
from fanout.stores.cache_modes import CacheMode

Seconds = Annotated[float, Field(ge=0.1, le=3600)]
USD = Annotated[float, Field(gt=0, le=1_000_000)]


class PricesTable(Table):
    """US dollars per million tokens, and per thousand web searches."""

    input: Annotated[float, Field(ge=0, le=1e6)] = 0.0
    output: Annotated[float, Field(ge=0, le=1e6)] = 0.0
    searches: Optional[Annotated[float, Field(ge=0, le=1e6)]] = None  # unset: genai-prices', else unknown


class ProviderTable(Table):
    kind: Optional[str] = None  # a kind in providers/registry.py, or one a plugin package registers
    model: Optional[str] = None
    base_url: Optional[str] = None
    api_key_env: Optional[str] = None
    n_ctx: Optional[Annotated[int, Field(ge=256, le=1_000_000)]] = None
    # May branches use the provider's own web search? Unset: yes for the anthropic kind and OpenAI's own endpoint.
    web_search: Optional[bool] = None
    prices: dict[str, PricesTable] = {}
    # Limits: unset keys keep the built-in provider's values (or providers.base.Limits' defaults).
    concurrency: Optional[Annotated[int, Field(ge=1, le=10_000)]] = None
    rpm: Optional[Annotated[int, Field(ge=1, le=10_000_000)]] = None
    tpm: Optional[Annotated[int, Field(ge=1, le=1_000_000_000)]] = None
    timeout: Optional[Seconds] = None
    stall_timeout: Optional[Seconds] = None
    max_retries: Optional[Annotated[int, Field(ge=0, le=100)]] = None
    max_retry_after: Optional[Annotated[float, Field(ge=0, le=86_400)]] = None
    backoff_base: Optional[Annotated[float, Field(ge=0, le=600)]] = None
    backoff_max: Optional[Annotated[float, Field(ge=0, le=3600)]] = None
    adaptive: Optional[bool] = None
    # Provider batches (--batch): does it have a batch API (default: the anthropic kind and OpenAI's own endpoint),
    # and its discount where genai-prices knows no batch price (the share of the price taken off).
    batch_api: Optional[bool] = None
    batch_discount: Optional[Annotated[float, Field(ge=0, lt=1)]] = None
    batch_poll: Optional[Annotated[float, Field(ge=0.01, le=3600)]] = None  # seconds between looks, at most

    @field_validator("base_url")
    @classmethod
    def _usable_url(cls, value: str | None) -> str | None:
        if value and (problem := base_url_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value is not None and value not in registry.kinds():
            raise ValueError(f"must be one of {', '.join(registry.kinds())}, not {value!r}")
        return value


LIMIT_KEYS = ("concurrency", "rpm", "tpm", "timeout", "stall_timeout", "max_retries", "max_retry_after",
              "backoff_base", "backoff_max", "adaptive")


class CacheTable(Table):
    mode: CacheMode = "use"
    size_limit_mb: Annotated[int, Field(ge=1, le=10_000_000)] = 1024


class InputsTable(Table):
    """Inputs given as files (`--set doc=@notes.md`), and each file of a `files` branch."""

    max_file_mb: Annotated[float, Field(ge=0.001, le=1024)] = DEFAULT_MAX_FILE_BYTES / (1024 * 1024)


class CostTable(Table):
    """What runs may spend: `budget` (US dollars a run may spend, unless --budget or the recipe says), and
    `confirm_above` (a run whose estimate may cost more is asked about first)."""

    budget: Optional[USD] = None
    confirm_above: Optional[Annotated[float, Field(ge=0, le=1_000_000)]] = None


class ConfigFile(Table):
    default_provider: str = "local"
    providers: dict[str, ProviderTable] = {}
    cache: CacheTable = CacheTable()
    keymap: dict[str, str] = {}
    inputs: InputsTable = InputsTable()
    cost: CostTable = CostTable()


def json_schema() -> dict[str, Any]:
    return ConfigFile.model_json_schema()
