"""The stream decoder on arbitrary event streams: split at any byte, with comments, unknown fields, blank lines,
LF / CRLF / CR line ends, with or without `[DONE]`, cut short, corrupted, or plain garbage.

Whatever arrives, an adapter's stream yields text that is exactly what the server sent (or, when the stream
fails, a prefix of it) and then either its StreamEnd or a classified ProviderError, never anything else.
The body reaches the adapter as a real httpx2 response over an in-memory byte stream, in the given pieces.
"""

from __future__ import annotations

import asyncio
import json

import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanout.providers.anthropic_api import AnthropicProvider
from fanout.providers.base import GenerationRequest, Message, ProviderError, StreamEnd, TextDelta
from fanout.providers.openai_compat import OpenAIProvider
from fanout.providers.sse import SSEDecoder

FAILURE_KINDS = {"malformed", "incomplete", "empty", "stream"}
REQUEST = GenerationRequest("m", (Message("user", "hi"),))
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class _Canned:
    """The real adapter, its request answered by a 200 response whose body arrives in `pieces`."""

    pieces: list[bytes] = []
    content_type = "text/event-stream"

    async def _send(self, path, body):
        async def chunks():
            for piece in self.pieces:
                yield piece

        return httpx2.Response(200, headers={"content-type": self.content_type}, content=chunks())


# One of each, made once: building an SDK client (its TLS context) costs more than an example.
_ADAPTERS = {
    kind: type(f"Canned{base.__name__}", (_Canned, base), {})(
        kind, model="m", base_url="http://canned", api_key="sk-canned", timeout=5, concurrency=1
    )
    for kind, base in (("openai", OpenAIProvider), ("anthropic", AnthropicProvider))
}


def canned(kind: str, pieces: list[bytes], content_type: str = "text/event-stream"):
    adapter = _ADAPTERS[kind]
    adapter.pieces, adapter.content_type = pieces, content_type
    return adapter


def run(provider) -> tuple[list[str], StreamEnd | None, ProviderError | None]:
    async def go():
        texts, end = [], None
        try:
            async for item in provider.stream(REQUEST):
                if isinstance(item, TextDelta):
                    assert end is None, "text after the end"
                    texts.append(item.text)
                else:
                    assert isinstance(item, StreamEnd) and end is None
                    end = item
        except ProviderError as err:
            assert end is None, "an error after the end"
            return texts, None, err
        return texts, end, None

    return asyncio.run(go())


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    """`body` in pieces, cut at the given offsets (taken modulo its length, so any list fits any body)."""
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in zip(points, points[1:])]


# --- building event streams ------------------------------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
junk_line = st.sampled_from([b": keep-alive", b":", b"id: 7", b"retry: 3000", b"x-unknown: 1", b"idle"])


@st.composite
def stream_lines(draw, kind: str):
    """(the lines of a well-formed stream with junk between its events, the deltas it carries, usage sent)."""
    deltas = draw(st.lists(text, max_size=8))
    ascii_only = draw(st.booleans())
    usage = draw(st.booleans())

    def data(obj) -> bytes:
        return b"data: " + json.dumps(obj, ensure_ascii=ascii_only).encode()

    events: list[list[bytes]] = []
    if kind == "openai":
        chunk = {"id": "c", "object": "chat.completion.chunk", "model": "m-1"}
        events.append([data({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})])
        events += [[data({**chunk, "choices": [{"index": 0, "delta": {"content": d}}]})] for d in deltas]
        events.append([data({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})])
        if usage:
            events.append([data({**chunk, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 9}})])
        if draw(st.booleans()):
            events.append([b"data: [DONE]"])
    else:
        def named(name: str, obj) -> list[bytes]:
            return [b"event: " + name.encode(), data({"type": name, **obj})]

        events.append(named("message_start", {"message": {"model": "m-1", "usage": {"input_tokens": 3}}}))
        events.append(named("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
        events.append(named("ping", {}))
        events += [named("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": d}})
                   for d in deltas]
        events.append(named("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}))
        events.append(named("message_stop", {}))
    lines: list[bytes] = []
    for event in events:
        lines += draw(st.lists(junk_line, max_size=2))
        if draw(st.integers(0, 4)) == 0:
            lines.append(b"")  # a stray blank line dispatches nothing
        lines += event + [b""]
    return lines, deltas, usage


def encode(lines: list[bytes], eol: bytes) -> bytes:
    return b"".join(line + eol for line in lines)


eols = st.sampled_from([b"\n", b"\r\n", b"\r"])
cuts = st.lists(st.integers(0, 10_000), max_size=12)
kinds = st.sampled_from(["openai", "anthropic"])


# --- the decoder alone -----------------------------------------------------------------------------------------


def decode(pieces: list[bytes]) -> list[tuple[str, bytes]]:
    decoder = SSEDecoder()
    out = [e for piece in pieces for e in decoder.feed(piece)]
    return out + decoder.end()


@SETTINGS
@given(body=st.binary(max_size=300), cuts=cuts)
def test_any_bytes_split_anywhere_decode_the_same(body, cuts):
    assert decode(split(body, cuts)) == decode([body])


sse_shaped = st.lists(st.sampled_from([b"data: a", b"data:b", b"event: e", b": c", b"", b"\r", b"\n", b"\r\n",
                                       b"data", b"id: 1", b"\xef\xbb\xbf"]), max_size=30).map(b"".join)


@SETTINGS
@given(body=sse_shaped, cuts=cuts)
def test_sse_shaped_bytes_split_anywhere_decode_the_same(body, cuts):
    assert decode(split(body, cuts)) == decode([body])


@SETTINGS
@given(body=sse_shaped, cuts=cuts)
def test_sse_shaped_bytes_split_after_every_cr_decode_the_same(body, cuts):
    after_cr = [i + 1 for i, byte in enumerate(body) if byte == 13]  # the hard place: between a CR and an LF
    assert decode(split(body, cuts + after_cr)) == decode([body])


def test_decoder_follows_the_event_stream_rules():
    body = (b"\xef\xbb\xbf: comment\r\nevent: one\r\ndata: a\r\ndata:b\r\nid: 1\r\n\r\n"
            b"data:\n\ndata: \n\nevent: lonely\n\ndata:  two spaces\rdata: x\r\rdata: last")
    assert decode([body]) == [("one", b"a\nb"), ("", b" two spaces\nx")]  # `data: last` was cut: dropped
    assert decode([body + b"\n"]) == [("one", b"a\nb"), ("", b" two spaces\nx"), ("", b"last")]
    # A CRLF split between its CR and its LF is one line end, not two (which would dispatch `one` early).
    assert decode([b"event: one\r", b"\ndata: a\r", b"\n\r", b"\n"]) == [("one", b"a")]


# --- the adapters over the decoder -----------------------------------------------------------------------------


@SETTINGS
@given(kind=kinds, data=st.data(), eol=eols, cuts=cuts)
def test_a_whole_stream_yields_exactly_its_text(kind, data, eol, cuts):
    lines, deltas, usage = data.draw(stream_lines(kind))
    texts, end, err = run(canned(kind, split(encode(lines, eol), cuts)))
    assert err is None, err
    assert texts == deltas  # each delta once, in order, none invented
    assert end.finish_reason in ("stop", "end_turn") and end.model == "m-1"
    assert end.output_tokens == (9 if usage or kind == "anthropic" else None)


@SETTINGS
@given(kind=kinds, data=st.data(), eol=eols, cuts=cuts, cut=st.integers(0, 10_000))
def test_a_stream_cut_anywhere_is_whole_or_a_classified_failure(kind, data, eol, cuts, cut):
    lines, deltas, _ = data.draw(stream_lines(kind))
    body = encode(lines, eol)
    texts, end, err = run(canned(kind, split(body[: cut % (len(body) + 1)], cuts)))
    if err is None:
        assert texts == deltas and end.finish_reason
    else:
        assert err.kind in {"incomplete", "empty"} and err.retryable
        assert texts == deltas[: len(texts)]  # a prefix: nothing invented, nothing out of order
        assert (err.kind == "incomplete") == bool(texts)


@SETTINGS
@given(kind=kinds, data=st.data(), eol=eols, cuts=cuts, garbage=st.binary(min_size=1, max_size=20))
def test_a_corrupted_event_is_malformed_not_text(kind, data, eol, cuts, garbage):
    lines, deltas, _ = data.draw(stream_lines(kind))
    where = data.draw(st.integers(0, len(lines)))
    name = b"event: content_block_delta" if kind == "anthropic" else b""
    bad = [name] if name else []
    bad += [b"data: {" + garbage.replace(b"\n", b"").replace(b"\r", b""), b""]
    lines = lines[:where] + [b""] + bad + lines[where:]
    texts, end, err = run(canned(kind, split(encode(lines, eol), cuts)))
    if err is None:  # the corruption landed after the terminal event, where nothing is read any more
        assert texts == deltas and end.finish_reason
    else:
        assert err.kind == "malformed" and err.retryable
        assert texts == deltas[: len(texts)]


@SETTINGS
@given(kind=kinds, body=st.binary(max_size=400), cuts=cuts,
       ctype=st.sampled_from(["text/event-stream", "text/html", "application/json"]))
def test_garbage_ends_in_a_stream_end_or_a_classified_failure(kind, body, cuts, ctype):
    texts, end, err = run(canned(kind, split(body, cuts), ctype))
    assert (end is None) != (err is None)
    if err is not None:
        assert err.kind in FAILURE_KINDS, err
        assert "sk-canned" not in err.message


@SETTINGS
@given(kind=kinds, data=st.data(), eol=eols, cuts=cuts,
       etype=st.sampled_from(["overloaded_error", "api_error", "server_error", "invalid_request_error"]))
def test_an_error_event_mid_stream_is_a_stream_failure(kind, data, eol, cuts, etype):
    lines, deltas, _ = data.draw(stream_lines(kind))
    where = data.draw(st.integers(1, max(1, len(lines) - 1)))
    error = {"type": etype, "message": "Overloaded"}
    if kind == "anthropic":
        bad = [b"event: error", b"data: " + json.dumps({"type": "error", "error": error}).encode()]
    else:
        bad = [b"data: " + json.dumps({"error": {**error, "code": etype}}).encode()]
    lines = lines[:where] + [b""] + bad + [b""] + lines[where:]
    texts, end, err = run(canned(kind, split(encode(lines, eol), cuts)))
    if err is None:  # after the terminal event: never read
        assert texts == deltas
        return
    assert err.kind == "stream" and "Overloaded" in err.message
    assert err.retryable == (etype != "invalid_request_error")
    assert texts == deltas[: len(texts)]
