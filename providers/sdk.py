"""What the SDK adapters share: their shape, one streaming loop, and failures worded the same way whichever
SDK raised them.

The SDK builds the request (URL, auth, headers, JSON, timeouts) and raises its own error classes for a refused
one; the response body is read here, as raw server-sent events (`sse.py`), and each adapter's `Fold` picks the
few fields fanout uses out of each event. That skips the SDK's typed object per chunk, most of the client's CPU
at a thousand branches.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any, AsyncIterator

import httpx2

from fanout.core.text import redact

from .base import (
    BadStream,
    EmptyStream,
    GenerationRequest,
    Incomplete,
    ProviderError,
    StreamEnd,
    StreamError,
    StreamItem,
    TextDelta,
    Timeout,
    TransportError,
    Unreachable,
    classify_status,
)
from .http_client import body_chunks
from .sse import read_events

# After the terminal event only the end of the body is left (usually already read): consuming it lets the
# connection go back to the pool, but a server that keeps the stream open must not hold a finished call.
DRAIN_SECONDS = 0.1


class Fold:
    """One response's events folded into the text deltas and the fields of its StreamEnd; searches and citations
    (a grounded answer's) are queued in `items`, to be passed on in order."""

    __slots__ = ("done", "finish", "items")

    def __init__(self) -> None:
        self.done = False  # the terminal event arrived: nothing more to read
        self.finish = ""  # the finish (stop) reason; none means the response is incomplete
        self.items: list[StreamItem] = []

    def event(self, name: str, data: bytes) -> str | None:
        """The text this event adds, if any. Raises ProviderError for an error event or a malformed one."""
        raise NotImplementedError

    def end(self) -> StreamEnd:
        raise NotImplementedError


class SDKProvider:
    """An adapter over a vendor SDK client. Subclasses name the SDK, the endpoint, the body and the fold."""

    kind = ""
    path = ""  # the streaming endpoint, relative to the client's base URL
    sdk: Any = None  # the SDK's module, for its error classes

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

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        raise NotImplementedError

    def _fold(self, request: GenerationRequest) -> Fold:
        raise NotImplementedError

    def _path(self, request: GenerationRequest) -> str:
        """The endpoint this request goes to."""
        return self.path

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        try:
            response = await self._send(self._path(request), self._body(request))
            fold = self._fold(request)
            got_text = False
            events = read_events(body_chunks(response))
            try:
                try:
                    async for batch in events:
                        for name, data in batch:
                            text = fold.event(name, data)
                            if fold.items:
                                for item in fold.items:
                                    yield item
                                fold.items.clear()
                            if text:
                                got_text = True
                                yield TextDelta(text)
                        if fold.done:
                            break
                except (httpx2.RequestError, self.sdk.APIConnectionError) as err:  # a drop or a stall mid-stream
                    raise transport_error(self.sdk, self.base_url, err) from None
                if fold.done:
                    await _drain(events)
            finally:
                # Abandoned mid-stream (a stall, a cancel) or done: free the connection now, not at collection.
                await events.aclose()
                await response.aclose()
            if not fold.finish:
                raise incomplete_error(self.base_url, got_text, response.headers.get("content-type", ""))
            yield fold.end()
        except ProviderError as err:
            # A provider may quote the key back (a 401 echoing it): it never reaches events, sessions or logs.
            err.message = redact(err.message, [self._key])
            raise

    async def _send(self, path: str, body: dict[str, Any]) -> httpx2.Response:
        """The request, made by the SDK; its response unread (status errors are raised before it returns)."""
        sdk = self.sdk
        try:
            return await self._client.post(path, cast_to=httpx2.Response, body=body, stream=True)
        except sdk.APIStatusError as err:
            raise status_error(err) from None
        except (httpx2.RequestError, sdk.APIConnectionError) as err:
            raise transport_error(sdk, self.base_url, err) from None

    async def aclose(self) -> None:
        await self._client.close()


async def _drain(events: AsyncIterator[Any]) -> None:
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in events:
                pass
    except (TimeoutError, httpx2.RequestError):
        pass  # the response was complete: what follows it cannot fail the call


def parse(data: bytes) -> dict[str, Any]:
    """One event's JSON object, or a `malformed` failure."""
    try:
        obj = json.loads(data)
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise malformed_error(err) from None
    if obj.__class__ is not dict:
        raise malformed_error(ValueError(f"an event's data is not a JSON object: {data[:80]!r}"))
    return obj


def count(value: object) -> int | None:
    """A token count as the server sent it, if it is one."""
    return value if value.__class__ is int else None


def status_error(err: Any) -> ProviderError:
    """An SDK's APIStatusError (either SDK's: both keep the provider's JSON error body) for the retry loop."""
    body = err.body if isinstance(err.body, dict) else {}
    inner = body.get("error", body)
    code = None
    message = err.message
    if isinstance(inner, dict):
        code = inner.get("code") or inner.get("type")
        message = inner.get("message") or message
    return classify_status(err.status_code, str(message), err.response.headers, code)


# Error types inside a 200 stream that another attempt cannot fix; any other (overloaded, api_error, ...) is a
# server-side failure worth retrying.
_FINAL_STREAM_ERRORS = frozenset(
    {"invalid_request_error", "authentication_error", "permission_error", "not_found_error",
     "request_too_large", "billing_error", "insufficient_quota"}
)  # fmt: skip


def stream_error(error: object) -> ProviderError:
    """An error event after the response started (e.g. Anthropic's overloaded_error): the HTTP status said 200,
    so the event's own type decides."""
    etype, message = None, "the server reported an error mid-stream"
    if isinstance(error, dict):
        etype = error.get("code") or error.get("type")
        message = str(error.get("message") or message)
    elif isinstance(error, str) and error:
        message = error
    etype = etype if isinstance(etype, str) else None
    final = etype in _FINAL_STREAM_ERRORS or "insufficient_quota" in message
    return StreamError(f"stream error: {message}" + (f" ({etype})" if etype else ""), final=final,
                       rate_limited=etype == "rate_limit_error")


def transport_error(sdk: Any, base_url: str, err: BaseException) -> ProviderError:
    """A failure on the wire, worded the same whichever shape it came in: httpx2's own error, or the SDK's
    APITimeoutError / APIConnectionError wrapped around it (SDK versions differ in which they raise, and where)."""
    if isinstance(err, sdk.APITimeoutError) or any(isinstance(e, httpx2.TimeoutException) for e in _causes(err)):
        return timeout_error(base_url)
    return connection_error(base_url, err)


def timeout_error(base_url: str) -> ProviderError:
    return Timeout(f"timed out waiting for {base_url or 'the provider'}")


def connection_error(base_url: str, err: BaseException) -> ProviderError:
    chain = _causes(err)
    where = base_url or "the provider"
    if any(isinstance(e, httpx2.ConnectError) for e in chain):
        # No connection was ever made (refused, unknown host, no route): not a hiccup worth six retries. The
        # caller decides, knowing whether this provider ever answered before.
        root = chain[-1]
        if isinstance(root, socket.gaierror):
            what, check = "unknown host", "check the host name in the URL and the network (DNS)"
        elif isinstance(root, ConnectionRefusedError):
            what, check = "connection refused", "check that a server is listening there and the port is right"
        else:
            what, check = f"{type(root).__name__}: {root}", "check the URL and the network"
        return Unreachable(f"cannot connect to {where} ({what}): {check}")
    if any(isinstance(e, httpx2.RemoteProtocolError) for e in chain):
        # The server closed the connection before the answer's end (aiohttp words it "TransferEncodingError: 400",
        # which reads like a status the server never sent).
        return TransportError(f"the connection to {where} dropped before the answer was complete")
    cause = err if isinstance(err, httpx2.RequestError) else (err.__cause__ or err.__context__)
    detail = f" ({type(cause).__name__}: {cause})" if cause else ""
    return TransportError(f"connection to {where} failed{detail}")


def _causes(err: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def malformed_error(err: BaseException) -> ProviderError:
    return BadStream(f"malformed stream from the server ({type(err).__name__}: {err})")


def incomplete_error(base_url: str, got_text: bool, content_type: str = "") -> ProviderError:
    """A stream that closed without its terminal event: nothing at all (e.g. not an event stream), or a cut."""
    if got_text:
        return Incomplete(f"the stream from {base_url or 'the provider'} ended before the response was complete")
    what = (
        f"a {content_type.split(';')[0].strip()} response, not an event stream"
        if content_type and "event-stream" not in content_type
        else "an empty stream, or a response that is not an event stream"
    )
    return EmptyStream(f"{base_url or 'the provider'} sent no completion ({what})")
