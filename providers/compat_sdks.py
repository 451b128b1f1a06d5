"""The private names of the two vendor SDKs (openai, anthropic) that fanout leans on, in one place.

Both SDKs share one generated client base. Each request joins the client's base URL with the endpoint's path in
`_prepare_url(url)`, parsing both again every call (tens of microseconds, at a thousand branches a measurable
share of the client's CPU: bench/README.md). fanout remembers the joined URL per path while the client's public
`base_url` stays the same object (`http_client.URLMemo`; setting `base_url` anew forgets them). If an SDK release renames or reshapes either, the client is used as it is:
slower, never wrong. tests/providers/test_compat.py fails loudly when that happens, so the bound in pyproject.toml
is raised on purpose.
"""

from __future__ import annotations

import inspect
from typing import Any

from .http_client import URLMemo

_MISSING = object()


def remembers_urls(client_class: type) -> bool:
    """The SDK's client has the `_prepare_url(self, url)` the memo overrides."""
    method = getattr(client_class, "_prepare_url", None)
    return callable(method) and list(inspect.signature(method).parameters) == ["self", "url"]


def with_remembered_urls(client_class: type) -> type:
    """A subclass of the SDK's client class that joins each path with the base URL once; the class itself when
    the SDK's internals are not what the subclass relies on."""
    if not remembers_urls(client_class):
        return client_class

    class Remembered(client_class):  # type: ignore[valid-type,misc]
        _fanout_urls: URLMemo | None = None

        def _prepare_url(self, url: str) -> Any:
            base = getattr(self, "base_url", _MISSING)  # public: the SDKs moved the field behind it (openai 3.63)
            if base is _MISSING:  # no base URL the memo can watch for change: never cache
                return super()._prepare_url(url)
            if self._fanout_urls is None:
                self._fanout_urls = URLMemo()
            return self._fanout_urls.get(base, url, super()._prepare_url)

    Remembered.__name__ = Remembered.__qualname__ = client_class.__name__
    return Remembered
