"""What the SDK adapters share: their shape, and failures worded the same way whichever SDK raised them."""

from __future__ import annotations

from typing import Any, AsyncIterator

from fanout.core.text import redact

from .base import GenerationRequest, ProviderError, StreamItem


class SDKProvider:
    """An adapter over a vendor SDK client. Subclasses build the client and implement `_stream`."""

    kind = ""

    def __init__(self, name: str, *, model: str, base_url: str, api_key: str, timeout: float, concurrency: int) -> None:
        self.name = name
        self.model = model
        self.base_url = base_url
        self.concurrency = concurrency
        self._key = api_key
        # Ours is the only retry loop (max_retries=0): SDK retries would multiply with it and hide throttling.
        self._client = self._client_for(api_key, base_url or None, timeout)

    def _client_for(self, api_key: str, base_url: str | None, timeout: float) -> Any:
        raise NotImplementedError

    def _stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        raise NotImplementedError

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        try:
            async for item in self._stream(request):
                yield item
        except ProviderError as err:
            # A provider may quote the key back (a 401 echoing it): it never reaches events, sessions or logs.
            err.message = redact(err.message, [self._key])
            raise

    async def aclose(self) -> None:
        await self._client.close()


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
