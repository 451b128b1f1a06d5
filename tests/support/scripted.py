"""A provider whose every call is scripted: latency, tokens, and failures per attempt. For scheduling tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from fanout.providers.base import GenerationRequest, Limits, ProviderError, StreamEnd, StreamItem, TextDelta
from fanout.strategies.calls import Target
from fanout.strategies.limits import ProviderLimiter
from fanout.strategies.recipe import CallSettings


@dataclass
class Step:
    """One attempt: wait `latency` seconds, stream `tokens` words over `stream_time`, then maybe fail."""

    latency: float = 1.0
    tokens: int = 4
    stream_time: float = 0.0
    error: ProviderError | None = None
    error_after: int = 0  # tokens streamed before `error` is raised
    stall_after: int | None = None  # stream this many tokens, then go silent
    usage: bool = True


@dataclass
class Call:
    key: str
    request: GenerationRequest
    start: float
    end: float | None = None


def task_of(prompt: str) -> str:
    """A prompt's own task: the text after the last fenced report (what earlier steps wrote comes first, and may
    quote other titles), or the whole prompt when it has none."""
    return prompt[prompt.rfind("<<<end"):].split("\n", 1)[-1] if "<<<end" in prompt else prompt


class ScriptedProvider:
    kind = "scripted"
    base_url = ""

    def __init__(self, plan: Callable[[str, int], Step], *, name: str = "scripted", concurrency: int = 100) -> None:
        """`plan(key, attempt)` gives each attempt's Step; key is the branch title found in the prompt."""
        self.name = name
        self.model = "scripted-model"
        self.concurrency = concurrency
        self.plan = plan
        self.calls: list[Call] = []
        self.attempts: dict[str, int] = {}
        self.in_flight = 0
        self.peak = 0
        self.keys: list[str] = []

    def key_of(self, request: GenerationRequest) -> str:
        """The branch whose `[key]` tag opens a line of its own task: the text after the last fenced report,
        since what earlier branches wrote (which may quote their own tags) comes first."""
        for line in task_of(request.messages[-1].content).splitlines():
            for key in self.keys:
                if f"[{key}]" in line:
                    return key
        return "aggregate"

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        loop = asyncio.get_running_loop()
        key = self.key_of(request)
        attempt = self.attempts.get(key, 0) + 1
        self.attempts[key] = attempt
        step = self.plan(key, attempt)
        call = Call(key, request, loop.time())
        self.calls.append(call)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(step.latency)
            for i in range(step.tokens):
                if step.error is not None and i == step.error_after:
                    raise step.error
                if step.stall_after is not None and i == step.stall_after:
                    await asyncio.sleep(10_000)
                if step.stream_time:
                    await asyncio.sleep(step.stream_time / step.tokens)
                yield TextDelta(f"{key}-{i} ")
            if step.error is not None and step.error_after >= step.tokens:
                raise step.error
            yield StreamEnd(10 if step.usage else None, step.tokens if step.usage else None, "stop", "scripted-model")
        finally:
            self.in_flight -= 1
            call.end = loop.time()

    async def aclose(self) -> None:
        pass


def resolver(provider: ScriptedProvider, limits: Limits | None = None) -> Callable[[CallSettings], Target]:
    limits = limits or Limits(concurrency=provider.concurrency, timeout=30, stall_timeout=5)
    limiter = ProviderLimiter(limits.concurrency, adaptive=limits.adaptive, rpm=limits.rpm, tpm=limits.tpm)

    def resolve(settings: CallSettings) -> Target:
        return Target(provider, limits, limiter, settings.model or provider.model, settings.temperature,
                      settings.max_tokens or 64)

    return resolve
