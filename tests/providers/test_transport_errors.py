"""A failure on the wire reads the same whichever shape it arrives in.

SDK versions differ in what they let through: anthropic 2.11 passed httpx2's own RemoteProtocolError and
ReadTimeout up from a stream cut mid-body, 2.17 wraps them in APIConnectionError / APITimeoutError, and openai
wraps them everywhere. The adapters must word both shapes the same way, before the response and mid-stream.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import anthropic
import httpx2
import openai
import pytest

from fanout.providers.anthropic_api import AnthropicProvider
from fanout.providers.base import GenerationRequest, Message, ProviderError, TextDelta, Unreachable
from fanout.providers.openai_compat import OpenAIProvider

REQUEST = GenerationRequest("m", (Message("user", "hi"),), max_tokens=8)
HTTP_REQUEST = httpx2.Request("POST", "http://127.0.0.1:1/v1/x")

# One event of text before the cut, in each provider's format.
FIRST_EVENT = {
    "openai": b'data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]}\n\n',
    "anthropic": b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hello"}}\n\n',
}


def provider(kind: str):
    cls = OpenAIProvider if kind == "openai" else AnthropicProvider
    return cls(kind, model="m", base_url="http://127.0.0.1:1", api_key="k", timeout=1.0, concurrency=1)


def shapes(sdk: Any, raw: httpx2.TransportError) -> list[BaseException]:
    """The error as httpx2 raises it, and as the SDK wraps it (cause set, as the SDKs do)."""
    wrapper_cls = sdk.APITimeoutError if isinstance(raw, httpx2.TimeoutException) else sdk.APIConnectionError
    wrapped = wrapper_cls(request=HTTP_REQUEST) if wrapper_cls is sdk.APITimeoutError else wrapper_cls(
        request=HTTP_REQUEST, message="Connection error."
    )
    wrapped.__cause__ = raw
    return [raw, wrapped]


class _CutBody(httpx2.AsyncByteStream):
    def __init__(self, first: bytes, error: BaseException) -> None:
        self.first, self.error = first, error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        raise self.error


async def classify(kind: str, error: BaseException, *, mid_stream: bool) -> tuple[ProviderError, list[str]]:
    p = provider(kind)

    async def post(path: str, **kwargs: Any) -> httpx2.Response:  # the SDK client's post, as _send calls it
        if not mid_stream:
            raise error
        return httpx2.Response(200, headers={"content-type": "text/event-stream"},
                               stream=_CutBody(FIRST_EVENT[kind], error), request=HTTP_REQUEST)

    p._client.post = post
    got: list[str] = []
    with pytest.raises(ProviderError) as err:
        async for item in p.stream(REQUEST):
            if isinstance(item, TextDelta):
                got.append(item.text)
    await p.aclose()
    return err.value, got


@pytest.mark.parametrize("kind,sdk", [("openai", openai), ("anthropic", anthropic)])
@pytest.mark.parametrize("mid_stream", [False, True], ids=["before", "mid-stream"])
@pytest.mark.parametrize(
    "raw,expected",
    [
        (httpx2.RemoteProtocolError("incomplete chunked read"), "connection"),
        (httpx2.ReadTimeout("timed out"), "timeout"),
    ],
    ids=["drop", "stall"],
)
async def test_raw_and_wrapped_transport_errors_are_classified_alike(kind, sdk, mid_stream, raw, expected):
    results = [await classify(kind, shape, mid_stream=mid_stream) for shape in shapes(sdk, raw)]
    (raw_err, raw_got), (wrapped_err, wrapped_got) = results
    assert raw_err.kind == wrapped_err.kind == expected
    assert raw_err.retryable and wrapped_err.retryable
    assert not isinstance(raw_err, Unreachable) and not isinstance(wrapped_err, Unreachable)
    assert str(raw_err) == str(wrapped_err)
    assert raw_got == wrapped_got == (["Hello"] if mid_stream else [])


@pytest.mark.parametrize("kind,sdk", [("openai", openai), ("anthropic", anthropic)])
async def test_a_refused_connection_reads_as_unreachable_in_both_shapes(kind, sdk):
    raw = httpx2.ConnectError("refused")
    raw.__cause__ = ConnectionRefusedError(111, "Connection refused")
    for shape in shapes(sdk, raw):
        err, _ = await classify(kind, shape, mid_stream=False)
        assert isinstance(err, Unreachable) and err.kind == "unreachable", shape
        assert "connection refused" in str(err)


@pytest.mark.parametrize("kind,sdk", [("openai", openai), ("anthropic", anthropic)])
@pytest.mark.parametrize("mid_stream", [False, True], ids=["before", "mid-stream"])
async def test_a_dropped_connection_reads_as_dropped(kind, sdk, mid_stream):
    """Not as aiohttp's "TransferEncodingError: 400", which reads like a status the server never sent."""
    raw = httpx2.RemoteProtocolError("Response payload is not completed: <TransferEncodingError: 400>")
    for shape in shapes(sdk, raw):
        err, _ = await classify(kind, shape, mid_stream=mid_stream)
        assert "dropped before the answer was complete" in str(err) and "400" not in str(err), shape
