"""Provider batches in the engine, over real HTTP against the loopback server through the official SDKs: which
steps are batched, one batch per provider, results matched by custom_id in any order, failed, expired and
cancelled requests as failed branches with the provider's reason, the batch price, and a run that waits in a
batch it submitted before."""

from __future__ import annotations

import asyncio

import pytest

from fanout.devserver import Fault, LoopbackServer, default_text
from fanout.frontends.state import RunState
from fanout.providers.base import Limits, Prices
from fanout.providers.batch import custom_id
from fanout.providers.registry import build
from fanout.strategies import events as ev
from fanout.strategies.batching import BatchSpec, members
from fanout.strategies.calls import Target
from fanout.strategies.engine import Engine, RunSpec, strategy_edges
from fanout.strategies.limits import ProviderLimiter
from fanout.strategies.recipe import expand, from_data

PRICES = {"m": Prices(2.0, 10.0)}
HALF = {"m": Prices(1.0, 5.0)}


def recipe(on_error: str = "continue", strategy: str = "hybrid"):
    return from_data({
        "name": "b", "strategy": strategy, "on_error": on_error, "prompt": "Classify {item} ({title})",
        "defaults": {"max_tokens": 16},
        "branches": [{"id": "t", "title": "Ticket", "items": ["alpha", "beta", "gamma", "delta"]},
                     {"id": "sum", "title": "Summary", "prompt": "Sum up", "after": ["t"]}],
        "aggregate": {"kind": "concat"},
    }, "b.toml")


def targets(server: LoopbackServer, kind: str):
    url = f"{server.base_url}/v1" if kind == "openai" else server.base_url
    provider = build("lb", kind, model="m", base_url=url, api_key_env="", key_optional=True)
    limiter = ProviderLimiter(4)

    def resolve(settings, prices=PRICES, timeout=5.0):
        return Target(provider, Limits(concurrency=4, timeout=timeout, stall_timeout=timeout, prices=prices), limiter,
                      "m", None, settings.max_tokens or 16)

    def resolve_batch(settings):
        return resolve(settings, HALF, timeout=600.0)

    return provider, resolve, resolve_batch


async def run(server, kind, *, mode="first", on_error="continue", strategy="hybrid", pending=None, holds=None):
    provider, resolve, resolve_batch = targets(server, kind)
    spec = RunSpec(recipe(on_error, strategy), {}, strategy, resolve, session_id="20260101-000000-batch",
                   batch=BatchSpec(mode, resolve_batch, poll=0.02, pending=pending or {}, requests=holds or {}))
    events = [e async for e in Engine(spec).events()]
    await provider.aclose()
    return RunState.from_events(events), events


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_the_first_steps_go_as_one_batch_at_the_batch_price(kind):
    async with LoopbackServer() as server:
        state, events = await run(server, kind)
    submitted = [e for e in events if isinstance(e, ev.BatchSubmitted)]
    assert len(submitted) == 1 and submitted[0].branch_ids == ("t.1", "t.2", "t.3", "t.4")
    assert server.batches.created == 1
    assert [r.custom_id for r in server.batches.lines] == [custom_id(f"t.{n}") for n in range(1, 5)]
    direct = [r for r in server.requests if r.path.endswith(("/chat/completions", "/messages"))]
    assert len(direct) == 1 and "Sum up" in direct[0].prompt  # the step after them: an ordinary call
    assert state.status == "ok"
    for n in range(1, 5):
        b = state.branches[f"t.{n}"]
        m = b.metrics
        assert m.batch == submitted[0].batch and m.ttft is None
        assert m.cost == pytest.approx(HALF["m"].cost(m.input_tokens, m.output_tokens))
        line = next(r for r in server.batches.lines if r.custom_id == custom_id(f"t.{n}"))
        assert b.text == default_text(line.prompt, "m", server.tokens)  # matched by custom_id, not by order
    progress = [e for e in events if isinstance(e, ev.BatchProgress)]
    assert progress[-1].ended and (progress[-1].total, progress[-1].succeeded) == (4, 4)
    assert state.batches[submitted[0].batch].ended


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_failed_and_expired_requests_are_failed_branches_with_the_providers_reason(kind):
    async with LoopbackServer() as server:
        server.add_fault(Fault(status=400, message="no such ticket", error_type="invalid_request_error"),
                         match=lambda r: r.custom_id == custom_id("t.2"))
        server.add_fault(Fault(batch_expired=True), match=lambda r: r.custom_id == custom_id("t.4"))
        state, _ = await run(server, kind)
    assert state.status == "partial"
    assert state.branches["t.1"].status == "done" and state.branches["t.3"].status == "done"
    assert "no such ticket" in state.branches["t.2"].error
    assert "expired" in state.branches["t.4"].error
    assert state.branches["sum"].status == "done"  # on_error = continue: the rest go on


async def test_on_error_fail_stops_at_a_failed_request():
    async with LoopbackServer() as server:
        server.add_fault(Fault(status=400, message="refused"), match=lambda r: r.custom_id == custom_id("t.1"))
        state, _ = await run(server, "openai", on_error="fail")
    assert state.status == "failed" and state.branches["sum"].skipped


async def test_batch_all_sends_each_layer_as_its_own_batch():
    async with LoopbackServer() as server:
        state, events = await run(server, "anthropic", mode="all", strategy="hybrid")
    submitted = [e.branch_ids for e in events if isinstance(e, ev.BatchSubmitted)]
    assert submitted == [("t.1", "t.2", "t.3", "t.4"), ("sum",)]
    assert state.status == "ok" and state.branches["sum"].metrics.batch
    assert not [r for r in server.requests if r.path == "/v1/messages"]


async def test_a_run_waits_in_the_batch_it_submitted_before():
    async with LoopbackServer(batch_delay=None) as server:
        _, _, resolve_batch = targets(server, "openai")
        provider = resolve_batch(recipe().branches[0].settings).provider
        from fanout.providers.batch import batch_api
        from fanout.providers.base import GenerationRequest, Message

        ids = ["t.1", "t.2", "t.3", "t.4"]
        earlier = await batch_api(provider).submit(
            [(i, GenerationRequest("m", (Message("user", i),), 16)) for i in ids])
        server.batches.release()
        state, events = await run(server, "openai", pending={i: earlier.id for i in ids}, holds={earlier.id: tuple(ids)})
        await provider.aclose()
    assert server.batches.created == 1 and not [e for e in events if isinstance(e, ev.BatchSubmitted)]
    assert state.status == "ok" and all(state.branches[i].metrics.batch == earlier.id for i in ids)


def test_members_are_the_steps_that_wait_on_nothing_or_every_layer():
    rec = expand(from_data({
        "name": "m", "prompt": "x", "branches": [
            {"id": "late", "after": ["mid"]}, {"id": "mid", "after": ["a"]}, {"id": "a"}, {"id": "b"}],
    }, "m.toml"), {})
    waits, _ = strategy_edges(rec, "hybrid")
    assert members(rec.branches, waits, "first") == {"a": 0, "b": 0}
    assert members(rec.branches, waits, "all") == {"late": 2, "mid": 1, "a": 0, "b": 0}
    seq, _ = strategy_edges(rec, "sequential")
    assert members(rec.branches, seq, "first") == {"a": 0}


def test_custom_ids_keep_branch_ids_apart_in_the_providers_alphabet():
    ids = ["ticket.1", "ticket_2e1", "ticket-1", "a" * 80, "a" * 81, "é"]
    made = [custom_id(i) for i in ids]
    assert len(set(made)) == len(ids)
    assert all(len(c) <= 64 and all(ch.isalnum() or ch in "-_" for ch in c) for c in made)
    assert made[0] == "ticket_2e1" and made[1] == "ticket_5f2e1" and made[2] == "ticket-1"


async def within(engine: Engine, seconds: float = 60) -> list:
    """The run's events; a batch that waits forever fails the test instead of hanging it."""
    async def collect():
        return [e async for e in engine.events()]

    return await asyncio.wait_for(collect(), seconds)


async def test_members_waiting_on_the_batch_itself_go_in_the_next_one(tmp_path):
    """Two identical requests: the second waits on the first's answer (the cache makes it once), so the batch goes
    without it and it is served from the cache. A budget with room for two requests at a time: the other two
    wait for the first two to settle, then go in the batches after it."""
    from fanout.stores.cache import ResponseCache
    from fanout.strategies.budget import Budget

    async with LoopbackServer() as server:
        provider, resolve, resolve_batch = targets(server, "openai")
        twins = from_data({"name": "d", "strategy": "parallel", "prompt": "Classify {item}",
                           "defaults": {"max_tokens": 16},
                           "branches": [{"id": "t", "items": ["same", "same", "other"]}]}, "d.toml")
        cache = ResponseCache("use", directory=tmp_path / "cache")
        spec = RunSpec(twins, {}, "parallel", resolve, source=cache,
                       batch=BatchSpec("first", resolve_batch, poll=0.02))
        state = RunState.from_events(await within(Engine(spec)))
        cache.close()
        assert state.status == "ok" and server.batches.created == 1 and len(server.batches.lines) == 2
        assert state.branches["t.2"].cached and state.branches["t.2"].text == state.branches["t.1"].text

        before = len(server.batches.lines)
        one = HALF["m"].cost(len("Classify alpha (Ticket)") + 2 * 16, 16)  # a request's worst case, batch price
        spec = RunSpec(recipe(), {}, "parallel", resolve, budget=Budget(2.5 * one),
                       batch=BatchSpec("first", resolve_batch, poll=0.02))
        events = await within(Engine(spec))
        await provider.aclose()
    state = RunState.from_events(events)
    sizes = [len(e.branch_ids) for e in events if isinstance(e, ev.BatchSubmitted)]
    assert sizes[0] == 2 and len(sizes) >= 2 and max(sizes) <= 2  # never more in flight than the budget holds
    assert state.status in ("ok", "budget") and sum(sizes) == len(server.batches.lines) - before
