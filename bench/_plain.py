"""The plain approach, for comparison: the `openai` SDK's AsyncOpenAI (max_retries=0) with asyncio.gather,
streaming every call and reading every chunk; and, as a floor, the same calls over raw httpx2 with json.loads per
SSE line (what a leaner client costs).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Sequence

from _common import AGGREGATE_PROMPT, BRANCH_PROMPT, TOPIC


def branch_prompt(title: str) -> str:
    return BRANCH_PROMPT.format(topic=TOPIC, title=title)


def aggregate_prompt(reports: Sequence[tuple[str, str]]) -> str:
    body = "\n\n".join(f"## {title}\n{text[:500]}" for title, text in reports)
    return AGGREGATE_PROMPT.format(topic=TOPIC) + "\n\n" + body


@dataclass
class PlainResult:
    wall: float  # from before the client is made to the end of the aggregate's stream
    calls: int
    latencies: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


async def _sdk_call(client, prompt: str, max_tokens: int) -> str:
    stream = await client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0.3,
        stream=True,
        stream_options={"include_usage": True},
    )
    out: list[str] = []
    async for chunk in stream:
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                out.append(choice.delta.content)
    return "".join(out)


async def _gathered(call, titles: Sequence[str], concurrency: int | None, max_tokens: int,
                    aggregate_max_tokens: int, t0: float) -> PlainResult:
    """gather over every angle (bounded by a Semaphore when `concurrency` is given), then one aggregate call;
    `call(prompt, limit)` makes one streamed call and returns its text. Each call's latency is kept and each
    call that completes is counted; `wall` runs from `t0` (before the client was made) to the aggregate's end."""
    sem = asyncio.Semaphore(concurrency) if concurrency else None
    result = PlainResult(0.0, 0)

    async def timed(name: str, prompt: str, limit: int) -> str:
        start = time.perf_counter()
        text = await call(prompt, limit)
        result.latencies[name] = time.perf_counter() - start
        result.calls += 1
        return text

    async def one(title: str) -> str:
        if sem is None:
            return await timed(title, branch_prompt(title), max_tokens)
        async with sem:
            return await timed(title, branch_prompt(title), max_tokens)

    texts = await asyncio.gather(*(one(t) for t in titles))
    prompt = aggregate_prompt(list(zip(titles, texts)))
    result.texts["aggregate"] = await timed("aggregate", prompt, aggregate_max_tokens)
    result.wall = time.perf_counter() - t0
    return result


async def sdk_fanout(
    base_url: str,
    titles: Sequence[str],
    *,
    concurrency: int | None = None,
    max_tokens: int = 256,
    aggregate_max_tokens: int = 400,
) -> PlainResult:
    """gather over every angle (bounded by a Semaphore when `concurrency` is given), then one aggregate call."""
    import openai

    t0 = time.perf_counter()
    client = openai.AsyncOpenAI(api_key="loopback", base_url=base_url + "/v1", max_retries=0)

    try:
        return await _gathered(partial(_sdk_call, client), titles, concurrency, max_tokens, aggregate_max_tokens, t0)
    finally:
        await client.close()


async def sdk_phases(
    base_url: str,
    phases: Sequence[Sequence[str]],
    *,
    max_tokens: int = 256,
    aggregate_max_tokens: int = 400,
) -> PlainResult:
    """A phase-by-phase hybrid: one gather per phase; a phase starts when the whole previous phase is done."""
    import openai

    t0 = time.perf_counter()
    client = openai.AsyncOpenAI(api_key="loopback", base_url=base_url + "/v1", max_retries=0)
    result = PlainResult(0.0, 0)
    reports: list[tuple[str, str]] = []

    async def one(title: str) -> str:
        start = time.perf_counter()
        text = await _sdk_call(client, branch_prompt(title), max_tokens)
        result.latencies[title] = time.perf_counter() - start
        result.calls += 1
        return text

    try:
        for phase in phases:
            texts = await asyncio.gather(*(one(t) for t in phase))
            reports += list(zip(phase, texts))
        start = time.perf_counter()
        await _sdk_call(client, aggregate_prompt(reports), aggregate_max_tokens)
        result.latencies["aggregate"] = time.perf_counter() - start
        result.calls += 1
        result.wall = time.perf_counter() - t0
    finally:
        await client.close()
    return result


def _body(prompt: str, limit: int) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": prompt}], "max_tokens": limit,
            "temperature": 0.3, "stream": True, "stream_options": {"include_usage": True}}


def _line_text(line: bytes | str) -> str:
    """The content of one SSE line of a chat-completion stream ("" for anything else)."""
    if line[:7] not in ("data: {", b"data: {"):
        return ""
    return "".join(text for choice in json.loads(line[6:]).get("choices", ())
                   if (text := (choice.get("delta") or {}).get("content")))


async def raw_fanout(
    base_url: str,
    titles: Sequence[str],
    *,
    concurrency: int | None = None,
    max_tokens: int = 256,
    aggregate_max_tokens: int = 400,
) -> PlainResult:
    """The same calls over raw httpx2: no typed chunk objects, json.loads per SSE line."""
    import httpx2

    t0 = time.perf_counter()
    client = httpx2.AsyncClient(
        limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100), timeout=60
    )
    url = base_url + "/v1/chat/completions"

    async def call(prompt: str, limit: int) -> str:
        async with client.stream("POST", url, json=_body(prompt, limit)) as response:
            response.raise_for_status()
            return "".join([_line_text(line) async for line in response.aiter_lines()])

    try:
        return await _gathered(call, titles, concurrency, max_tokens, aggregate_max_tokens, t0)
    finally:
        await client.aclose()


async def raw_aiohttp_fanout(
    base_url: str,
    titles: Sequence[str],
    *,
    concurrency: int | None = None,
    max_tokens: int = 256,
    aggregate_max_tokens: int = 400,
) -> PlainResult:
    """The same calls over aiohttp alone (the transport under fanout's SDK clients), json.loads per SSE line:
    the leanest client, so its ratio is what this server and machine allow."""
    import aiohttp

    t0 = time.perf_counter()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    url = base_url + "/v1/chat/completions"

    async def call(prompt: str, limit: int) -> str:
        async with session.post(url, json=_body(prompt, limit)) as response:
            response.raise_for_status()
            return "".join([_line_text(line) async for line in response.content])  # the body line by line

    try:
        return await _gathered(call, titles, concurrency, max_tokens, aggregate_max_tokens, t0)
    finally:
        await session.close()
