"""The OpenAI and Anthropic adapters over real HTTP, through the engine, against the loopback server.

Each fault the server can inject ends in a retried success or a clear per-branch failure; nothing hangs.
"""

from __future__ import annotations

import socket

import pytest

from fanout.devserver import Fault, LoopbackServer, default_text
from fanout.providers.anthropic_api import AnthropicProvider
from fanout.providers.base import Limits
from fanout.providers.openai_compat import OpenAIProvider
from fanout.frontends.state import RunState
from fanout.strategies import events as ev
from fanout.strategies.calls import Target
from fanout.strategies.engine import Engine, RunSpec
from fanout.strategies.limits import ProviderLimiter
from fanout.strategies.recipe import from_data

KINDS = ["openai", "anthropic"]


def make_provider(kind: str, url: str, timeout: float = 5.0):
    cls = OpenAIProvider if kind == "openai" else AnthropicProvider
    base = url + "/v1" if kind == "openai" else url
    return cls(kind, model="m", base_url=base, api_key="sk-test-key", timeout=timeout, concurrency=8)


def recipe(n: int = 3, kind: str = "concat"):
    return from_data(
        {
            "prompt": "Branch {id} about {topic}",
            "inputs": {"topic": "faults"},
            "branches": [{"id": f"b{i}"} for i in range(n)],
            "aggregate": {"kind": kind, "prompt": "Combine"},
        },
        "http.toml",
    )


async def run(provider, rec=None, *, strategy="parallel", **limits_kw):
    limits = Limits(**{"timeout": 5.0, "stall_timeout": 5.0, "backoff_base": 0.05, "backoff_max": 0.2, **limits_kw})
    limiter = ProviderLimiter(limits.concurrency, adaptive=limits.adaptive)
    rec = rec or recipe()

    def resolve(settings):
        return Target(provider, limits, limiter, "m", None, 64)

    engine = Engine(RunSpec(rec, dict(rec.inputs), strategy, resolve, seed=3))
    state, events = RunState(), []
    async for e in engine.events():
        events.append(e)
        state.apply(e)
    await provider.aclose()
    return state, events, limiter


def expected(server: LoopbackServer, branch: str) -> str:
    return default_text(f"Branch {branch} about faults", "m", server.tokens)


@pytest.mark.parametrize("kind", KINDS)
async def test_streams_text_and_usage(loopback, kind):
    state, events, _ = await run(make_provider(kind, loopback.base_url))
    assert state.status == "ok"
    for bid in ("b0", "b1", "b2"):
        b = state.branches[bid]
        assert b.text == expected(loopback, bid)
        assert b.metrics.output_tokens == loopback.tokens and not b.metrics.tokens_estimated
        assert b.metrics.input_tokens > 0 and b.metrics.ttft is not None
    tokens = [e for e in events if isinstance(e, ev.BranchToken) and e.branch == "b0"]
    assert len(tokens) == loopback.tokens  # streamed word by word, not delivered at the end
    assert {r.api for r in loopback.requests} == {kind}


async def _no_close() -> None:
    return None


@pytest.mark.parametrize("kind", KINDS)
async def test_a_new_base_url_is_used_at_once_though_urls_are_remembered(loopback, kind):
    # The SDK clients keep each joined URL per path (providers/compat_sdks.py, compat_httpx2.py): one
    # joined for the first server must not carry a call meant for the second.
    other = LoopbackServer()
    await other.start()
    try:
        provider = make_provider(kind, loopback.base_url)
        close = provider.aclose
        provider.aclose = _no_close  # the same client for both runs
        first, _, _ = await run(provider, recipe(1))
        assert first.status == "ok" and len(loopback.requests) == 1
        provider._client.base_url = other.base_url + "/v1" if kind == "openai" else other.base_url
        again, _, _ = await run(provider, recipe(1))
        await close()
        assert again.status == "ok" and len(other.requests) == 1 and len(loopback.requests) == 1
    finally:
        await other.stop()


async def test_missing_usage_is_estimated(loopback):
    loopback.usage = False
    state, _, _ = await run(make_provider("openai", loopback.base_url))
    m = state.branches["b0"].metrics
    assert m.tokens_estimated and m.output_tokens == loopback.tokens


@pytest.mark.parametrize("kind", KINDS)
async def test_429_retry_after_is_honoured(loopback, kind):
    loopback.add_fault(Fault(status=429, retry_after=0.3), times=1, match=lambda r: "b1" in r.prompt)
    state, events, _ = await run(make_provider(kind, loopback.base_url))
    retry = next(e for e in events if isinstance(e, ev.BranchRetrying))
    assert retry.branch == "b1" and retry.delay >= 0.3 and "429" in retry.reason
    assert state.status == "ok" and state.metrics.throttles == 1
    assert state.branches["b1"].text == expected(loopback, "b1")


async def test_retry_after_ms_is_preferred(loopback):
    loopback.add_fault(Fault(status=429, retry_after=30, retry_after_ms=120), times=1)
    state, events, _ = await run(make_provider("openai", loopback.base_url), recipe(1))
    retry = next(e for e in events if isinstance(e, ev.BranchRetrying))
    assert 0.12 <= retry.delay < 1.0
    assert state.status == "ok"


async def test_retry_after_beyond_maximum_fails_the_branch(loopback):
    loopback.add_fault(Fault(status=429, retry_after=3600), times=1)
    state, _, _ = await run(make_provider("openai", loopback.base_url), recipe(1), max_retry_after=60)
    assert state.branches["b0"].status == "failed"
    assert "3600" in state.branches["b0"].error and len(loopback.requests) == 1


@pytest.mark.parametrize("kind,status", [("openai", 500), ("openai", 503), ("anthropic", 529), ("anthropic", 500)])
async def test_server_errors_are_retried(loopback, kind, status):
    loopback.add_fault(Fault(status=status), times=2)
    state, events, _ = await run(make_provider(kind, loopback.base_url), recipe(1))
    assert [e.attempt for e in events if isinstance(e, ev.BranchRetrying)] == [1, 2]
    assert state.status == "ok" and len(loopback.requests) == 3  # SDK retries are off: ours are the only ones


@pytest.mark.parametrize("kind", KINDS)
async def test_disconnect_mid_stream_restarts_the_branch(loopback, kind):
    loopback.add_fault(Fault(disconnect_after=3), times=1)
    state, events, _ = await run(make_provider(kind, loopback.base_url), recipe(1))
    retry = next(e for e in events if isinstance(e, ev.BranchRetrying))
    assert retry.restart and "restarting" in retry.reason
    assert state.branches["b0"].text == expected(loopback, "b0")  # no duplicated first three words


@pytest.mark.parametrize("kind", KINDS)
async def test_stall_times_out_and_retries(loopback, kind):
    loopback.add_fault(Fault(stall_after=2), times=1)
    state, events, _ = await run(make_provider(kind, loopback.base_url), recipe(1), stall_timeout=0.3)
    retry = next(e for e in events if isinstance(e, ev.BranchRetrying))
    assert "stalled" in retry.reason or "timed out" in retry.reason
    assert state.status == "ok"


@pytest.mark.parametrize("kind", KINDS)
async def test_malformed_sse_line_is_retried(loopback, kind):
    loopback.add_fault(Fault(malformed_after=2), times=1)
    state, events, _ = await run(make_provider(kind, loopback.base_url), recipe(1))
    retry = next(e for e in events if isinstance(e, ev.BranchRetrying))
    assert "malformed" in retry.reason
    assert state.status == "ok"


@pytest.mark.parametrize("kind", KINDS)
async def test_error_event_inside_a_200_stream_is_retried(loopback, kind):
    # Anthropic's overloaded_error event (OpenAI: an error object in a data line) after two words of a 200 stream.
    loopback.add_fault(Fault(error_event_after=2, message="Overloaded"), times=1)
    state, events, _ = await run(make_provider(kind, loopback.base_url), recipe(1))
    retry = next(e for e in events if isinstance(e, ev.BranchRetrying))
    assert "stream error: Overloaded" in retry.reason and retry.restart
    assert state.status == "ok" and len(loopback.requests) == 2
    assert state.branches["b0"].text == expected(loopback, "b0")


@pytest.mark.parametrize("kind", KINDS)
async def test_error_event_no_retry_can_fix_fails_at_once(loopback, kind):
    loopback.add_fault(Fault(error_event_after=0, error_type="invalid_request_error", message="prompt too long"),
                       times=5)
    state, _, _ = await run(make_provider(kind, loopback.base_url), recipe(1))
    b = state.branches["b0"]
    assert b.status == "failed" and "prompt too long" in b.error and "invalid_request_error" in b.error
    assert len(loopback.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_wrong_content_type_is_an_error_not_an_empty_answer(loopback, kind):
    loopback.add_fault(Fault(content_type="text/html"), times=1)
    state, events, _ = await run(make_provider(kind, loopback.base_url), recipe(1))
    retry = next(e for e in events if isinstance(e, ev.BranchRetrying))
    assert "no completion" in retry.reason
    assert state.branches["b0"].text == expected(loopback, "b0")


@pytest.mark.parametrize("kind", KINDS)
async def test_401_fails_at_once_with_the_providers_message(loopback, kind):
    loopback.add_fault(Fault(status=401, message="Invalid API key provided"), times=5)
    state, _, _ = await run(make_provider(kind, loopback.base_url), recipe(1))
    b = state.branches["b0"]
    assert b.status == "failed" and "401" in b.error and "Invalid API key provided" in b.error
    assert len(loopback.requests) == 1


async def test_insufficient_quota_is_not_retried(loopback):
    loopback.add_fault(Fault(status=429, error_type="insufficient_quota", message="You exceeded your quota"), times=5)
    state, _, _ = await run(make_provider("openai", loopback.base_url), recipe(1))
    assert state.branches["b0"].status == "failed" and "quota" in state.branches["b0"].error
    assert len(loopback.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_a_proxy_from_the_environment_carries_the_calls(loopback, kind, monkeypatch):
    # providers/http_client.py reads the proxy variables itself (once, not aiohttp's per-request trust_env): a
    # user behind a proxy still reaches the provider through it, and NO_PROXY still goes direct.
    monkeypatch.setenv("HTTP_PROXY", loopback.base_url)
    monkeypatch.setenv("NO_PROXY", "")
    state, _, _ = await run(make_provider(kind, "http://api.provider.example"))
    assert state.status == "ok"
    assert {r.target.split("/")[2] for r in loopback.requests} == {"api.provider.example"}
    assert state.branches["b0"].final_text == expected(loopback, "b0")


async def test_no_proxy_goes_direct(loopback, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there: a proxied call would fail
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    state, _, _ = await run(make_provider("openai", loopback.base_url))
    assert state.status == "ok" and all(r.target == "" for r in loopback.requests)


async def test_server_not_listening_fails_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    state, events, limiter = await run(make_provider("openai", f"http://127.0.0.1:{port}"), recipe(6), concurrency=2)
    assert state.status == "failed" and all(b.status == "failed" for b in state.branches.values())
    # no retries: the two calls that got a slot were refused, the four behind them never tried
    assert not [e for e in events if isinstance(e, ev.BranchRetrying)]
    assert len([e for e in events if isinstance(e, ev.BranchStarted)]) == 2 == state.metrics.calls
    tried = [b for b in state.branches.values() if not b.error.startswith("not tried")]
    assert len(tried) == 2
    for b in state.branches.values():
        assert url in b.error and "connection refused" in b.error and "listening" in b.error
    assert url in state.done.error and "check" in state.done.error  # the run's one message
    assert state.metrics.concurrency is None


async def test_unknown_host_fails_at_once():
    # .invalid never resolves (RFC 6761)
    state, events, _ = await run(make_provider("anthropic", "http://fanout-test.invalid"), recipe(3), concurrency=1)
    assert not [e for e in events if isinstance(e, ev.BranchRetrying)]
    assert state.metrics.calls == 1
    assert "fanout-test.invalid" in state.done.error and "unknown host" in state.done.error
    assert all(b.status == "failed" for b in state.branches.values())


async def test_a_server_that_answered_and_then_went_away_is_retried():
    """A provider that answered once is restarting or flaky, not absent: its connection failures keep the retries."""
    server = LoopbackServer()
    await server.start()
    provider = make_provider("openai", server.base_url)
    limits = Limits(timeout=5.0, stall_timeout=5.0, backoff_base=0.05, backoff_max=0.1, max_retries=2)
    limiter = ProviderLimiter(limits.concurrency)
    rec = recipe(2)
    engine = Engine(RunSpec(rec, dict(rec.inputs), "sequential", lambda s: Target(provider, limits, limiter, "m",
                                                                                   None, 64), seed=3))
    state, events = RunState(), []
    async for e in engine.events():
        events.append(e)
        state.apply(e)
        if isinstance(e, ev.BranchDone) and e.branch == "b0":
            await server.stop()  # gone after answering
    await provider.aclose()
    assert state.branches["b0"].status == "done"
    b1 = state.branches["b1"]
    assert b1.status == "failed" and "gave up after 3 attempts" in b1.error, b1.error
    assert len([e for e in events if isinstance(e, ev.BranchRetrying) and e.branch == "b1"]) == 2
    assert "unreachable" not in state.done.error and "connection refused" not in state.done.error


async def test_concurrency_limit_is_real_on_the_wire():
    async with LoopbackServer(latency=0.1) as server:
        state, _, _ = await run(make_provider("openai", server.base_url), recipe(10), concurrency=3)
        assert state.status == "ok" and server.max_in_flight == 3


async def test_adaptive_concurrency_under_a_rate_limited_server():
    async with LoopbackServer(latency=0.05, max_concurrent=2, retry_after=0.05) as server:
        state, _, limiter = await run(make_provider("openai", server.base_url), recipe(12), concurrency=8)
        assert state.status == "ok"
        assert state.metrics.throttles == server.throttled > 0
        assert limiter.limit < 8  # halved on the 429s


async def test_synthesize_aggregate_over_http(loopback):
    state, _, _ = await run(make_provider("anthropic", loopback.base_url), recipe(3, "synthesize"))
    assert state.status == "ok" and state.aggregate.text
    agg = loopback.requests[-1]
    assert agg.prompt.endswith("Combine") and "b2" in agg.prompt  # the reports, then the task


async def test_load_300_branches_at_concurrency_50_all_complete():
    async with LoopbackServer(latency=0.02, tokens=8) as server:
        state, _, _ = await run(make_provider("openai", server.base_url), recipe(300), concurrency=50)
        assert state.status == "ok" and len(server.requests) == 300
        assert server.max_in_flight == 50
        assert all(b.text == default_text(f"Branch {b.id} about faults", "m", 8) for b in state.branches.values())
        assert state.metrics.wall < state.metrics.calls_sum / 10  # really concurrent, not serialised


async def test_429_storm_completes_and_counts_every_throttle(loopback):
    loopback.add_fault(Fault(status=429, retry_after_ms=50), times=12)
    state, events, limiter = await run(make_provider("openai", loopback.base_url), recipe(6), concurrency=6,
                                       max_retries=10)
    throttled = [e for e in events if isinstance(e, ev.BranchRetrying)]
    assert state.status == "ok" and len(throttled) == 12 == state.metrics.throttles
    assert all(e.delay >= 0.05 for e in throttled)
    assert limiter.limit < 6
