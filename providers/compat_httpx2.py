"""The private name of httpx2 that fanout leans on, in one place.

httpx2's client merges each request's URL with its base URL in `_merge_url(url)`, parsing both every call;
fanout remembers the result per URL string while `_base_url` stays the same object (`http_client.URLMemo`). If an
httpx2 release renames or reshapes either, the plain client is used: slower, never wrong.
tests/providers/test_compat.py fails loudly when that happens, so the bound in pyproject.toml is raised on purpose.
"""

from __future__ import annotations

import inspect
from typing import Any

import httpx2

from .http_client import URLMemo

_MISSING = object()


def remembers_merged_urls() -> bool:
    """httpx2's AsyncClient has the `_merge_url(self, url)` the memo overrides."""
    method = getattr(httpx2.AsyncClient, "_merge_url", None)
    return callable(method) and list(inspect.signature(method).parameters) == ["self", "url"]


class _Remembering(httpx2.AsyncClient):
    """httpx2's client, its merged URLs remembered."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fanout_memo = URLMemo()

    def _merge_url(self, url: httpx2.URL | str) -> httpx2.URL:
        base = self.__dict__.get("_base_url", _MISSING)
        if url.__class__ is not str or base is _MISSING:
            return super()._merge_url(url)
        return self._fanout_memo.get(base, url, super()._merge_url)  # type: ignore[arg-type]


AsyncClient: type[httpx2.AsyncClient] = _Remembering if remembers_merged_urls() else httpx2.AsyncClient
