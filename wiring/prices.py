"""What a call costs: the config's prices first, then pydantic's `genai-prices` (maintained per provider and model,
shipped with its data, so it works offline), and otherwise unknown — never a silent $0. Web searches are priced
per thousand the same way (a configured price without one takes genai-prices' where it has it).

Rates are resolved once per provider and model, when a run is prepared, so no lookup happens per call. They are
flat per-token rates: tiered prices (a higher rate past a context length) are not modelled.
"""

from __future__ import annotations

from dataclasses import replace
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
    if kind == "local" and model not in configured and "*" not in configured:
        return Prices(0.0, 0.0)  # the embedded model runs on this machine: free, and known to be (it never searches)
    library = library_rates(PRICE_LISTS.get(name), base_url, model) if kind != "local" else None
    mine = configured.get(model) or configured.get("*")
    if mine is None:
        return library
    if mine.searches is None and library is not None:
        return replace(mine, searches=library.searches)
    return mine


@lru_cache(maxsize=256)
def library_rates(provider_id: str | None, base_url: str, model: str, batch: bool = False) -> Prices | None:
    """USD per million input and output tokens from genai-prices (its batch prices with `batch`); None where it
    knows no price."""
    try:
        from genai_prices import Usage, calc_price  # about 0.5 s to import its data: only when a price is needed
    except ImportError:
        return None

    def per_million(**usage: int) -> Decimal:
        context = {"processing": "batch"} if batch else None
        return calc_price(Usage(**usage), model_ref=model, price_context=context,
                          **_where(provider_id, base_url)).total_price

    try:
        per_search = calc_price(Usage(), model_ref=model, **_where(provider_id, base_url)).model_price
        searches = per_search.web_searches_kcount  # None where the library prices no web search for the model
        return Prices(float(per_million(input_tokens=_MILLION)), float(per_million(output_tokens=_MILLION)),
                      None if searches is None else float(searches))
    except (LookupError, ValueError):
        return None


def _where(provider_id: str | None, base_url: str) -> dict:
    return {"provider_id": provider_id} if provider_id else {"provider_api_url": base_url or None}
