"""What a call costs: the config's prices first, then pydantic's `genai-prices` (maintained per provider and model,
shipped with its data, so it works offline), and otherwise unknown — never a silent $0.

Rates are resolved once per provider and model, when a run is prepared, so no lookup happens per call. They are
flat per-token rates: tiered prices (a higher rate past a context length) are not modelled.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from fanout.providers.base import Prices

# A built-in provider's name says whose price list applies, even behind a proxy's base URL; any other provider
# is priced by its base URL (genai-prices knows OpenRouter's, Groq's, ...), and a local server by nobody.
PRICE_LISTS = {"openai": "openai", "anthropic": "anthropic"}
_MILLION = 1_000_000


def batch_rates(name: str, kind: str, base_url: str, model: str, configured: dict[str, Prices],
                discount: float) -> Prices | None:
    """A provider batch's rates: genai-prices' batch price where it knows one, else the standard price less the
    provider's `batch_discount`."""
    if model not in configured and "*" not in configured and kind != "local":
        known = library_rates(PRICE_LISTS.get(name), base_url, model, batch=True)
        standard = library_rates(PRICE_LISTS.get(name), base_url, model)
        if known is not None and known != standard:
            return known
    standard = resolve(name, kind, base_url, model, configured)
    return None if standard is None else Prices(standard.input * (1 - discount), standard.output * (1 - discount))


def resolve(name: str, kind: str, base_url: str, model: str, configured: dict[str, Prices]) -> Prices | None:
    if model in configured:
        return configured[model]
    if "*" in configured:
        return configured["*"]
    if kind == "local":
        return Prices(0.0, 0.0)  # the embedded model runs on this machine: free, and known to be
    return library_rates(PRICE_LISTS.get(name), base_url, model)


@lru_cache(maxsize=256)
def library_rates(provider_id: str | None, base_url: str, model: str, batch: bool = False) -> Prices | None:
    """USD per million input and output tokens from genai-prices (its batch prices with `batch`); None where it
    knows no price."""
    try:
        from genai_prices import Usage, calc_price  # about 0.5 s to import its data: only when a price is needed
    except ImportError:
        return None

    def per_million(**usage: int) -> Decimal:
        kwargs = {"provider_id": provider_id} if provider_id else {"provider_api_url": base_url or None}
        context = {"processing": "batch"} if batch else None
        return calc_price(Usage(**usage), model_ref=model, price_context=context, **kwargs).total_price

    try:
        return Prices(float(per_million(input_tokens=_MILLION)), float(per_million(output_tokens=_MILLION)))
    except (LookupError, ValueError):
        return None
