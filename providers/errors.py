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


def malformed_error(err: BaseException) -> ProviderError:
    return ProviderError(f"malformed stream from the server ({type(err).__name__}: {err})", retryable=True, kind="malformed")


def incomplete_error(base_url: str, got_text: bool) -> ProviderError:
    """A stream that closed without its terminal event: nothing at all (e.g. not an event stream), or a cut."""
    if got_text:
        return ProviderError(
            f"the stream from {base_url or 'the provider'} ended before the response was complete",
            retryable=True,
            kind="incomplete",
        )
    return ProviderError(
        f"{base_url or 'the provider'} sent no completion (an empty stream, or a response that is not an event stream)",
        retryable=True,
        kind="empty",
    )
