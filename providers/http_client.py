"""The HTTP client under both SDKs: httpx2's client (the SDKs need it) sending over aiohttp.

The SDKs still build every request (URL, auth, headers, JSON, timeouts) and raise their error classes; only the
transport underneath changes. httpx2's pure-Python HTTP/1.1 stack (h11, httpcore's pool, anyio's streams) was
most of the client's CPU at a thousand branches: `bench/overhead.py`'s 1,000 branches at concurrency 100 cost
about 6 ms of CPU a call on it and 3-4 ms on aiohttp (llhttp, a C parser), measured side by side in one process.

The SDKs ship an aiohttp client of their own (`DefaultAioHttpClient`), but it words failures differently from
httpx2 (a refused connection comes out as a connect *timeout*, which would be retried six times); the adapters
classify httpx2's errors, so this transport raises exactly those: refused or unresolvable → ConnectError (with
the OS error as its cause), a body cut short or a server hanging up → RemoteProtocolError, a read that waited too
long → ReadTimeout.
"""

from __future__ import annotations

import asyncio
import urllib.request
from contextlib import contextmanager
from typing import Any, AsyncIterator, Callable, Iterator

import aiohttp
import httpx2

# Most specific first: ClientConnectorError and the timeouts are kinds of ClientConnectionError.
_ERRORS: tuple[tuple[type[BaseException], type[httpx2.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx2.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx2.ReadTimeout),
    (asyncio.TimeoutError, httpx2.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx2.ConnectError),  # refused, DNS, TLS handshake, proxy
    (aiohttp.ServerDisconnectedError, httpx2.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx2.RemoteProtocolError),  # the body ended before its declared end
    (aiohttp.InvalidURL, httpx2.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx2.UnsupportedProtocol),
    (aiohttp.ClientError, httpx2.ReadError),  # resets and anything else on the wire
)


@contextmanager
def _as_httpx() -> Iterator[None]:
    try:
        yield
    except (aiohttp.ClientError, asyncio.TimeoutError) as err:
        for theirs, ours in _ERRORS:
            if isinstance(err, theirs):
                raise ours(str(err) or type(err).__name__) from err
        raise


class _Body(httpx2.AsyncByteStream):
    """A response body as it arrives (each read as soon as it lands: tokens are not held back to fill a buffer)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # A body read to its end gives its connection back for the next call; one abandoned mid-stream (a stall,
        # a cancel) closes it, so no later call reads the rest of an old answer.
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """One aiohttp session, made on the first request inside the event loop that sends it (a session belongs
    to one loop; a provider used from a new loop gets a new session). TLS verification uses httpx2's defaults.

    Proxies come from the environment (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY), read once here. Not aiohttp's
    `trust_env`: that reads the proxy variables and parses ~/.netrc again for every request, in a thread, which
    was a quarter of the client's CPU at a thousand branches (py-spy of `bench/overhead.py`)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies = urllib.request.getproxies()
        self._tls_context: Any = None

    def _tls(self) -> Any:
        """httpx2's TLS context (certifi's roots, SSL_CERT_FILE), made once and only for an https URL: loading
        the roots takes tens of milliseconds, and the loopback and local servers never need it."""
        if self._tls_context is None:
            self._tls_context = httpx2.create_ssl_context()
        return self._tls_context

    def _proxy_for(self, url: httpx2.URL) -> str | None:
        if not self._proxies:
            return None
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if proxy and urllib.request.proxy_bypass(url.host):
            return None
        return proxy

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            # The concurrency limit is fanout's (strategies/limits.py): the connector adds none of its own.
            connector = aiohttp.TCPConnector(limit=0)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
            self._loop = loop
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = request.extensions.get("timeout") or {}
        with _as_httpx():
            response = await self._session_here().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=await request.aread() or None,
                allow_redirects=False,  # httpx2 follows them, if the SDK asks it to
                proxy=self._proxy_for(request.url),
                ssl=self._tls() if request.url.scheme == "https" else True,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        body = _Body(response)
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1", _BODY: body}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        return httpx2.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=body,
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            try:
                await self._session.close()
            except RuntimeError:
                pass  # its loop is gone: nothing left to close it with, and its sockets went with the loop
        self._session = None


_BODY = "fanout.body"  # the response's extension that holds its _Body (the aiohttp response underneath)


def body_chunks(response: httpx2.Response) -> AsyncIterator[bytes]:
    """The body of a streamed response as it arrives. From this transport and not content-encoded (what httpx2's
    decoders would pass through unchanged), straight from aiohttp: httpx2's three generator layers above it
    (aiter_bytes, aiter_raw, the client's bound stream) cost more per chunk than the SSE decoding. Otherwise
    httpx2's own aiter_bytes, which decodes. Either way the caller closes the response (`aclose`) when done."""
    body = response.extensions.get(_BODY)
    if body is None or "content-encoding" in response.headers:
        return response.aiter_bytes()
    return body.__aiter__()


class URLMemo:
    """URLs made from a base URL, kept by the string each was made from: the SDKs and httpx2 make the same URL
    from the same string call after call, and each making parses it again (httpx2's pure-Python urlparse, tens of
    microseconds). Forgotten when the base URL object changes (both replace it, never mutate it); bounded."""

    MAX = 64

    def __init__(self) -> None:
        self._base: Any = None
        self._urls: dict[str, Any] = {}

    def get(self, base: Any, url: str, make: Callable[[str], Any]) -> Any:
        if base is not self._base:  # the base URL was set anew: what was made with it is stale
            self._urls.clear()
            self._base = base
        made = self._urls.get(url)
        if made is None:
            made = make(url)
            if len(self._urls) < self.MAX:
                self._urls[url] = made
        return made


def http_client(sdk: Any) -> httpx2.AsyncClient:
    """An httpx2 client over aiohttp with the SDK's own defaults (its timeout; redirects followed)."""
    from .compat_httpx2 import AsyncClient  # its merged URLs remembered, where httpx2's internals allow

    return AsyncClient(transport=AiohttpTransport(), timeout=sdk.DEFAULT_TIMEOUT, follow_redirects=True)
