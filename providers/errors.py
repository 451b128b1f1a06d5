"""Failures every HTTP adapter shares, worded the same way whichever SDK raised them."""

from __future__ import annotations

from .base import ProviderError


def timeout_error(base_url: str) -> ProviderError:
    return ProviderError(f"timed out waiting for {base_url or 'the provider'}", retryable=True, kind="timeout")


def connection_error(base_url: str, err: BaseException) -> ProviderError:
    cause = err.__cause__ or err.__context__
    detail = f" ({type(cause).__name__}: {cause})" if cause else ""
    return ProviderError(
        f"connection to {base_url or 'the provider'} failed{detail}", retryable=True, kind="connection"
    )
