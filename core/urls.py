"""What makes a provider's base URL usable: checked where it is given (a flag, a config field), not at the first call."""

from __future__ import annotations

from urllib.parse import urlsplit


def base_url_problem(url: str) -> str | None:
    """Why `url` cannot be a provider's base URL, or None. `localhost:8080` parses as scheme "localhost": the SDK
    would retry it as a connection failure for a minute instead of saying it was mistyped."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{url!r} is not an http(s) URL; write it with its scheme, e.g. http://{url.split('://')[-1]}"
    return None
