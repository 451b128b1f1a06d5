"""Tests for fanout.devserver, driven by the real OpenAI and Anthropic SDK clients and by httpx.

How faults surface in the SDKs (both on httpx2). The SDKs have changed how they wrap a failure mid-stream
between minor versions (anthropic 2.11 let the raw httpx2 error through, 2.17 wraps it), so these tests check the
fault itself, the httpx2 error at the root, whichever way the SDK wraps it (`transport_error`):

* disconnect_after: ``httpx2.RemoteProtocolError`` ("incomplete chunked read"), raw or as the cause of the SDK's
  ``APIConnectionError`` (never its ``APITimeoutError``).
* stall_after with a read timeout: ``httpx2.ReadTimeout``, raw or as the cause of the SDK's ``APITimeoutError``.
* malformed_after: both SDKs raise ``json.JSONDecodeError`` from the stream iterator (neither skips the
  line). The Anthropic malformed line is sent as a named ``content_block_delta`` event, as an unnamed
  one would be silently skipped by that SDK.
* content_type (e.g. text/html, status 200) on a streaming call: neither SDK raises; the stream simply
  yields no events. Callers must notice the empty stream / the content-type header themselves.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import anthropic
import httpx
import httpx2
import openai
import pytest
from devserver_cli import devserver

from fanout.devserver import Fault, LoopbackServer, Request, default_text, split_words

ROOT = Path(__file__).resolve().parents[2]
USER = [{"role": "user", "content": "Tell me a story"}]


# --------------------------------------------------------------------------------------------------
# helpers


def oai(server: LoopbackServer, timeout: float = 5.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key="x", max_retries=0, timeout=timeout)


def ant(server: LoopbackServer, timeout: float = 5.0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.base_url, api_key="x", max_retries=0, timeout=timeout)


async def openai_stream(client: openai.AsyncOpenAI, got: list | None = None, **kw):
    """Stream a chat completion; return (content pieces, all chunks). Pieces also go to `got` as they arrive."""
    got = [] if got is None else got
    chunks = []
    kw.setdefault("messages", USER)
    stream = await client.chat.completions.create(model=kw.pop("model", "gpt-test"), stream=True, **kw)
    async for chunk in stream:
        chunks.append(chunk)
        if chunk.choices and chunk.choices[0].delta.content:
            got.append(chunk.choices[0].delta.content)
    return got, chunks


async def anthropic_stream(client: anthropic.AsyncAnthropic, got: list | None = None, **kw):
    got = [] if got is None else got
    events = []
    kw.setdefault("messages", USER)
    stream = await client.messages.create(
        model=kw.pop("model", "claude-test"), max_tokens=kw.pop("max_tokens", 1000), stream=True, **kw
    )
    async for event in stream:
        events.append(event)
        if event.type == "content_block_delta":
            got.append(event.delta.text)
    return got, events


def transport_error(err: BaseException, cause: type[BaseException]) -> BaseException:
    """The httpx2 error under an SDK's failure: the error itself when the SDK let it through, else its cause
    when the SDK wrapped it in its own connection or timeout error. Anything else fails the test."""
    if isinstance(err, cause):
        return err
    assert isinstance(err, (openai.APIConnectionError, anthropic.APIConnectionError)), repr(err)
    assert isinstance(err.__cause__, cause), f"{err!r} caused by {err.__cause__!r}, not {cause.__name__}"
    return err.__cause__


def echo(req: Request) -> str:
    return f"You said: {req.prompt} (to {req.body.get('model')})"


# --------------------------------------------------------------------------------------------------
# streaming text


async def test_openai_stream_matches_responder():
    async with LoopbackServer(responder=echo) as server, oai(server) as client:
        pieces, chunks = await openai_stream(client)
    expected = "You said: Tell me a story (to gpt-test)"
    assert "".join(pieces) == expected
    assert pieces == split_words(expected) == ["You ", "said: ", "Tell ", "me ", "a ", "story ", "(to ", "gpt-test)"]
    first, last = chunks[0], chunks[-1]
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert all(c.object == "chat.completion.chunk" and c.model == "gpt-test" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert last.choices[0].finish_reason == "stop"
    (req,) = server.requests
    assert (req.api, req.path, req.index, req.prompt) == ("openai", "/v1/chat/completions", 0, "Tell me a story")
    assert req.headers["authorization"] == "Bearer x"
    assert req.body["stream"] is True and req.body["messages"] == USER


async def test_anthropic_stream_matches_responder():
    async with LoopbackServer(responder=echo) as server, ant(server) as client:
        pieces, events = await anthropic_stream(client, system="Be brief.")
    expected = "You said: Tell me a story (to claude-test)"
    assert "".join(pieces) == expected and pieces == split_words(expected)
    types = [e.type for e in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = events[0].message
    assert (start.role, start.model, start.content, start.stop_reason) == ("assistant", "claude-test", [], None)
    assert start.usage.input_tokens == 6  # "Be brief." + "Tell me a story"
    delta = events[-2]
    assert delta.delta.stop_reason == "end_turn" and delta.usage.output_tokens == len(pieces)
    (req,) = server.requests
    assert (req.api, req.path, req.prompt) == ("anthropic", "/v1/messages", "Tell me a story")
    assert "anthropic-version" in req.headers
    # anthropic 2.11 sends `api_key` as a bearer token; older versions used `x-api-key`.
    assert req.headers.get("x-api-key") == "x" or req.headers.get("authorization") == "Bearer x"


async def test_prompt_is_last_user_message_with_text_blocks(loopback):
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second "}, {"type": "text", "text": "part"}]},
    ]
    async with ant(loopback) as client:
        await anthropic_stream(client, messages=messages)
    assert loopback.requests[0].prompt == "second part"


async def test_default_responder_is_deterministic(loopback):
    async with oai(loopback) as client:
        a, _ = await openai_stream(client)
        b, _ = await openai_stream(client)
        other_prompt, _ = await openai_stream(client, messages=[{"role": "user", "content": "Something else"}])
        other_model, _ = await openai_stream(client, model="gpt-other")
    assert a == b
    assert "".join(a) == default_text("Tell me a story", "gpt-test", 12)
    assert len(a) == 12 and all("-" in w for w in a)
    assert a != other_prompt and a != other_model
    assert [r.index for r in loopback.requests] == [0, 1, 2, 3]


async def test_anthropic_default_text_uses_tokens_setting(loopback):
    loopback.tokens = 5
    async with ant(loopback) as client:
        pieces, _ = await anthropic_stream(client)
    assert "".join(pieces) == default_text("Tell me a story", "claude-test", 5) and len(pieces) == 5


async def test_non_streaming_both_apis():
    async with LoopbackServer(responder=echo) as server, oai(server) as oc, ant(server) as ac:
        completion = await oc.chat.completions.create(model="gpt-test", messages=USER)
        message = await ac.messages.create(model="claude-test", max_tokens=3, messages=USER)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "You said: Tell me a story (to gpt-test)"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 8 and completion.usage.prompt_tokens == 4
    assert message.content[0].text == "You said: Tell "
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 3


# --------------------------------------------------------------------------------------------------
# usage and max_tokens


async def test_openai_usage_only_when_asked_and_enabled():
    async with LoopbackServer(tokens=4) as server, oai(server) as client:
        _, asked = await openai_stream(client, stream_options={"include_usage": True})
        _, not_asked = await openai_stream(client)
        server.usage = False
        _, disabled = await openai_stream(client, stream_options={"include_usage": True})
    last = asked[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (4, 4, 8)
    assert asked[-2].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in not_asked) and not_asked[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in disabled) and disabled[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
async def test_openai_max_tokens_truncates(loopback, param):
    async with oai(loopback) as client:
        pieces, chunks = await openai_stream(client, stream_options={"include_usage": True}, **{param: 3})
        full, full_chunks = await openai_stream(client, **{param: 12})
    assert pieces == full[:3] and len(full) == 12
    assert chunks[-2].choices[0].finish_reason == "length" and chunks[-1].usage.completion_tokens == 3
    assert full_chunks[-1].choices[0].finish_reason == "stop"  # exactly enough is not a cut


async def test_anthropic_max_tokens_truncates(loopback):
    async with ant(loopback) as client:
        pieces, events = await anthropic_stream(client, max_tokens=2)
        full, full_events = await anthropic_stream(client, max_tokens=100)
    assert pieces == full[:2]
    assert events[-2].delta.stop_reason == "max_tokens" and events[-2].usage.output_tokens == 2
    assert full_events[-2].delta.stop_reason == "end_turn"


# --------------------------------------------------------------------------------------------------
# status faults


async def test_429_fault_with_retry_after_headers(loopback):
    loopback.add_fault(Fault(status=429, retry_after=2, retry_after_ms=1500), times=2)
    async with oai(loopback) as oc, ant(loopback) as ac:
        with pytest.raises(openai.RateLimitError) as oerr:
            await openai_stream(oc)
        with pytest.raises(anthropic.RateLimitError) as aerr:
            await anthropic_stream(ac)
        ok, _ = await openai_stream(oc)  # fault used up
    for err in (oerr.value, aerr.value):
        assert err.status_code == 429
        assert err.response.headers["retry-after"] == "2"
        assert err.response.headers["retry-after-ms"] == "1500"
    assert oerr.value.code == "rate_limit_exceeded" and oerr.value.message.endswith("injected fault")
    assert aerr.value.body["error"]["type"] == "rate_limit_error"
    assert len(ok) == 12 and loopback.throttled == 2


async def test_retry_after_fractional_and_date(loopback):
    loopback.add_fault(Fault(status=429, retry_after=0.5))
    loopback.add_fault(Fault(status=429, retry_after=30, retry_after_date=True))
    async with oai(loopback) as client:
        with pytest.raises(openai.RateLimitError) as first:
            await openai_stream(client)
        with pytest.raises(openai.RateLimitError) as second:
            await openai_stream(client)
    assert first.value.response.headers["retry-after"] == "0.5"
    when = email.utils.parsedate_to_datetime(second.value.response.headers["retry-after"])
    assert 25 <= when.timestamp() - time.time() <= 31


async def test_insufficient_quota_error_type(loopback):
    loopback.add_fault(Fault(status=429, error_type="insufficient_quota", message="You exceeded your quota"))
    async with oai(loopback) as client:
        with pytest.raises(openai.RateLimitError) as err:
            await openai_stream(client)
    assert err.value.code == "insufficient_quota" and err.value.type == "insufficient_quota"
    assert err.value.body["message"] == "You exceeded your quota"


async def test_500_and_529_map_to_sdk_error_classes(loopback):
    loopback.add_fault(Fault(status=500), times=2)
    loopback.add_fault(Fault(status=529), times=2)
    async with oai(loopback) as oc, ant(loopback) as ac:
        with pytest.raises(openai.InternalServerError) as o500:
            await openai_stream(oc)
        with pytest.raises(anthropic.InternalServerError) as a500:
            await anthropic_stream(ac)
        with pytest.raises(openai.InternalServerError) as o529:
            await openai_stream(oc)
        with pytest.raises(anthropic.OverloadedError) as a529:
            await anthropic_stream(ac)
    assert (o500.value.status_code, a500.value.status_code, o529.value.status_code) == (500, 500, 529)
    assert o500.value.type == "server_error"
    assert a500.value.body["error"]["type"] == "api_error"
    assert a529.value.status_code == 529 and a529.value.body["error"]["type"] == "overloaded_error"
    assert loopback.throttled == 0


async def test_fault_match_and_order(loopback):
    loopback.add_fault(Fault(status=500), match=lambda r: r.api == "anthropic")
    loopback.add_fault(Fault(status=400))
    async with oai(loopback) as oc, ant(loopback) as ac:
        with pytest.raises(openai.BadRequestError):  # the 500 does not match OpenAI, the 400 does
            await openai_stream(oc)
        with pytest.raises(anthropic.InternalServerError):
            await anthropic_stream(ac)
        assert len((await anthropic_stream(ac))[0]) == 12


# --------------------------------------------------------------------------------------------------
# broken streams


@pytest.mark.parametrize("n", [0, 3])
async def test_disconnect_after_breaks_both_sdks(loopback, n):
    loopback.add_fault(Fault(disconnect_after=n), times=2)
    async with oai(loopback) as oc, ant(loopback) as ac:
        ogot: list[str] = []
        with pytest.raises(openai.APIConnectionError) as oerr:
            await openai_stream(oc, ogot)
        agot: list[str] = []
        with pytest.raises(Exception) as aerr:
            await anthropic_stream(ac, agot)
        # The server carries on normally afterwards.
        assert len((await openai_stream(oc))[0]) == 12
    for err in (oerr.value, aerr.value):
        assert not isinstance(err, (openai.APITimeoutError, anthropic.APITimeoutError))
        transport_error(err, httpx2.RemoteProtocolError)
    full = split_words(default_text("Tell me a story", "gpt-test", 12))
    assert ogot == full[:n]
    assert len(agot) == n


async def test_disconnect_non_streaming(loopback):
    loopback.add_fault(Fault(disconnect_after=0))
    async with oai(loopback) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model="m", messages=USER)


async def test_a_stalled_stream_does_not_block_others(loopback):
    loopback.add_fault(Fault(stall_after=2))
    async with oai(loopback, timeout=600) as patient, oai(loopback) as fresh:
        got: list[str] = []
        stalled = asyncio.create_task(openai_stream(patient, got))
        while len(got) < 2:  # the stream has reached its stall
            await asyncio.sleep(0.01)
        # While that stream stays stalled (its client would wait ten minutes), another request is served.
        assert len((await openai_stream(fresh))[0]) == 12
        assert not stalled.done() and loopback.in_flight == 1 and got == got[:2]
        stalled.cancel()
    for _ in range(500):  # its client is gone: the stalled handler ends
        if loopback.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    assert loopback.in_flight == 0


async def test_stall_after_times_out_in_both_sdks(loopback):
    loopback.add_fault(Fault(stall_after=2))
    async with oai(loopback, timeout=0.5) as oc, ant(loopback, timeout=0.5) as ac:
        ogot: list[str] = []
        with pytest.raises(openai.APITimeoutError):
            await openai_stream(oc, ogot)
        loopback.add_fault(Fault(stall_after=2))
        agot: list[str] = []
        with pytest.raises(Exception) as aerr:
            await anthropic_stream(ac, agot)
        assert not isinstance(aerr.value, anthropic.APIConnectionError) or isinstance(
            aerr.value, anthropic.APITimeoutError
        ), "a stall must read as a timeout"
        transport_error(aerr.value, httpx2.ReadTimeout)
    assert len(ogot) == 2 and len(agot) == 2
    # Once the clients are gone, the stalled handlers end.
    for _ in range(100):
        if loopback.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    assert loopback.in_flight == 0


async def test_stop_does_not_hang_on_stalled_or_idle_connections():
    server = LoopbackServer()
    await server.start()
    async with httpx.AsyncClient(timeout=5) as client:
        # one idle keep-alive connection ...
        idle = httpx.AsyncClient(timeout=5)
        await idle.post(f"{server.base_url}/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER})
        # ... and one stalled stream
        server.add_fault(Fault(stall_after=1))

        async def stalled():
            body = {"model": "m", "messages": USER, "stream": True}
            async with client.stream("POST", f"{server.base_url}/v1/chat/completions", json=body) as resp:
                async for _ in resp.aiter_bytes():
                    pass

        task = asyncio.create_task(stalled())
        await asyncio.sleep(0.1)
        await asyncio.wait_for(server.stop(), 5)  # a hang fails the test instead of blocking it
        with pytest.raises(httpx.HTTPError):
            await asyncio.wait_for(task, 2)
        await idle.aclose()
    await server.stop()  # idempotent


async def test_malformed_line_raises_in_both_sdks_and_stream_continues(loopback):
    loopback.add_fault(Fault(malformed_after=2), times=3)
    async with oai(loopback) as oc, ant(loopback) as ac:
        ogot: list[str] = []
        with pytest.raises(json.JSONDecodeError):
            await openai_stream(oc, ogot)
        agot: list[str] = []
        with pytest.raises(json.JSONDecodeError):
            await anthropic_stream(ac, agot)
    assert len(ogot) == 2 and len(agot) == 2
    # On the wire: exactly one bad data line, then the stream goes on to the end.
    async with httpx.AsyncClient() as client:
        body = {"model": "m", "messages": USER, "stream": True}
        resp = await client.post(f"{loopback.base_url}/v1/chat/completions", json=body)
    data = [line[6:] for line in resp.text.split("\n") if line.startswith("data: ")]
    bad = []
    for i, item in enumerate(data[:-1]):
        try:
            json.loads(item)
        except ValueError:
            bad.append(i)
    assert bad == [3]  # role chunk, 2 words, then the malformed line
    assert data[-1] == "[DONE]"
    words = [json.loads(d)["choices"][0]["delta"].get("content") for i, d in enumerate(data[:-1]) if i not in bad]
    assert "".join(w for w in words if w) == default_text("Tell me a story", "m", 12)


async def test_wrong_content_type(loopback):
    loopback.add_fault(Fault(content_type="text/html"), times=2)
    async with httpx.AsyncClient() as client:
        body = {"model": "m", "messages": USER, "stream": True}
        resp = await client.post(f"{loopback.base_url}/v1/chat/completions", json=body)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/html"
    assert resp.text.startswith("<!DOCTYPE html>")
    # The OpenAI SDK does not check the content type of a stream: it yields nothing and ends quietly.
    async with oai(loopback) as client:
        pieces, chunks = await openai_stream(client)
    assert pieces == [] and chunks == []


# --------------------------------------------------------------------------------------------------
# concurrency, timing, keep-alive


async def test_max_concurrent_throttles():
    async with LoopbackServer(latency=0.2, max_concurrent=2, retry_after=3) as server, oai(server) as client:
        results = await asyncio.gather(*(openai_stream(client) for _ in range(5)), return_exceptions=True)
        throttled = [r for r in results if isinstance(r, openai.RateLimitError)]
        ok = [r for r in results if not isinstance(r, BaseException)]
        assert len(ok) == 2 and len(throttled) == 3
        assert all(e.response.headers["retry-after"] == "3" for e in throttled)
        assert server.throttled == 3
        # Once the admitted requests are done, there is room again.
        assert len((await openai_stream(client))[0]) == 12
        assert server.throttled == 3 and len(server.requests) == 6


async def test_max_in_flight_reflects_real_concurrency():
    async with LoopbackServer(latency=0.2) as server, oai(server) as client:
        t0 = time.monotonic()
        await asyncio.gather(*(openai_stream(client) for _ in range(10)))
        elapsed = time.monotonic() - t0
        assert server.max_in_flight == 10 and server.in_flight == 0  # all ten at once
        assert elapsed >= 0.2  # none answered before the server's latency
        # Sequential requests never overlap.
        server.max_in_flight = 0
        server.latency = 0.0
        for _ in range(3):
            await openai_stream(client)
        assert server.max_in_flight == 1


async def test_latency_delay_and_token_interval(loopback):
    loopback.latency = 0.05
    loopback.token_interval = 0.03
    loopback.tokens = 4
    async with ant(loopback) as client:
        t0 = time.monotonic()
        stream = await client.messages.create(model="m", max_tokens=100, messages=USER, stream=True)
        headers_at = time.monotonic() - t0
        arrivals = []
        async for event in stream:
            if event.type == "content_block_delta":
                arrivals.append(time.monotonic() - t0)
        loopback.add_fault(Fault(delay=0.1))
        t1 = time.monotonic()
        await anthropic_stream(client)
        delayed = time.monotonic() - t1
    assert headers_at >= 0.05
    assert len(arrivals) == 4 and arrivals[-1] >= 0.05 + 4 * 0.03 - 0.01
    assert min(b - a for a, b in zip(arrivals, arrivals[1:])) >= 0.02
    assert delayed >= 0.05 + 0.1 + 4 * 0.03 - 0.01


async def test_keep_alive_reuses_one_connection(loopback):
    async with httpx.AsyncClient() as client:
        for i in range(3):
            async with client.stream(
                "POST", f"{loopback.base_url}/v1/messages",
                json={"model": "m", "max_tokens": 50, "messages": USER, "stream": True},
            ) as resp:  # fmt: skip
                assert resp.headers["content-type"].startswith("text/event-stream")
                assert resp.headers["transfer-encoding"] == "chunked"
                body = b"".join([chunk async for chunk in resp.aiter_bytes()])
            assert body.rstrip().endswith(b'data: {"type":"message_stop"}')
        resp = await client.post(f"{loopback.base_url}/v1/chat/completions", json={"model": "m", "messages": USER})
        assert resp.json()["choices"][0]["message"]["content"]
    # The real SDK (which drains after [DONE]) reuses its connection too.
    async with oai(loopback) as sdk:
        for _ in range(3):
            await openai_stream(sdk, stream_options={"include_usage": True})
    assert loopback.connections == 2 and len(loopback.requests) == 7


async def test_client_connection_close_is_honoured(loopback):
    async with httpx.AsyncClient(headers={"connection": "close"}) as client:
        for _ in range(2):
            resp = await client.post(f"{loopback.base_url}/v1/chat/completions", json={"model": "m", "messages": USER})
            assert resp.status_code == 200 and resp.headers["connection"] == "close"
    assert loopback.connections == 2


async def test_unknown_path_and_bad_requests(loopback):
    async with httpx.AsyncClient() as client:
        missing = await client.post(f"{loopback.base_url}/v1/completions", json={})
        wrong_method = await client.get(f"{loopback.base_url}/v1/chat/completions")
        bad_json = await client.post(
            f"{loopback.base_url}/v1/messages", content=b"{nope", headers={"content-type": "application/json"}
        )

        async def parts():
            yield b'{"model": "m", '
            yield b'"messages": [{"role": "user", "content": "hi"}]}'

        chunked = await client.post(f"{loopback.base_url}/v1/chat/completions", content=parts())
    assert missing.status_code == 404 and "error" in missing.json()
    assert wrong_method.status_code == 405
    assert bad_json.status_code == 400 and bad_json.json()["type"] == "error"
    assert chunked.status_code == 200 and loopback.requests[-1].prompt == "hi"
    assert loopback.requests[-1].headers["transfer-encoding"] == "chunked"
    assert [r.api for r in loopback.requests] == ["unknown", "openai", "anthropic", "openai"]


# --------------------------------------------------------------------------------------------------
# thread and command line


def test_start_in_thread_from_sync_code(loopback_thread):
    server = loopback_thread
    assert threading.current_thread() is threading.main_thread()
    server.add_fault(Fault(status=503))
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        failed = client.post("/v1/messages", json={"model": "m", "max_tokens": 9, "messages": USER})
        body = {"model": "m", "max_tokens": 9, "messages": USER, "stream": True}
        with client.stream("POST", "/v1/messages", json=body) as resp:
            text = "".join(resp.iter_text())
    assert failed.status_code == 503 and failed.json()["error"]["type"] == "api_error"
    assert "event: message_stop" in text
    assert [r.api for r in server.requests] == ["anthropic", "anthropic"]


def test_stop_thread_stops_serving():
    server = LoopbackServer().start_in_thread()
    url = server.base_url
    assert httpx.post(f"{url}/v1/chat/completions", json={"model": "m", "messages": USER}).status_code == 200
    server.stop_thread()
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{url}/v1/chat/completions", json={"model": "m", "messages": USER})
    server.stop_thread()  # idempotent


def test_cli_prints_url_and_serves():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("PYTHONUNBUFFERED", None)  # the server itself must flush its URL line
    proc = subprocess.Popen(
        [sys.executable, "-m", "fanout.devserver", "--port", "0", "--tokens", "3", "--no-usage"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killer = threading.Timer(15, proc.kill)
    killer.start()
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
        resp = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "m", "messages": USER, "stream": True, "stream_options": {"include_usage": True}},
            timeout=5,
        )
        assert resp.status_code == 200
        events = [line[6:] for line in resp.text.splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == default_text(
            "Tell me a story", "m", 3
        )
        assert all("usage" not in c for c in chunks)  # --no-usage
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""  # exactly one line on stdout
        assert "served 1 requests" in proc.stderr.read()
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_cli_plan_files_answer_plan_requests_in_turn(tmp_path):
    bad, good = tmp_path / "bad.txt", tmp_path / "good.json"
    bad.write_text("not a plan")
    good.write_text('{"angles": [{"title": "A"}]}')
    with devserver("--tokens", "3", "--plan", str(bad), "--plan", str(good)) as url:
        schema = {"type": "object", "properties": {"angles": {"type": "array"}}}
        plan_body = {"model": "m", "messages": USER,
                     "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}}
        ask = lambda body: httpx.post(f"{url}/v1/chat/completions", json=body, timeout=5).json()[  # noqa: E731
            "choices"][0]["message"]["content"]
        assert ask({"model": "m", "messages": USER}) == default_text("Tell me a story", "m", 3)
        assert ask(plan_body) == "not a plan"
        by_prompt = {"model": "m", "messages": [{"role": "user", "content": 'Reply with {"angles": [...]}'}]}
        assert ask(by_prompt) == '{"angles": [{"title": "A"}]}'
        assert ask(plan_body) == '{"angles": [{"title": "A"}]}'  # the last one again
