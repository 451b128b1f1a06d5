"""Searches, sources and citations are part of a call's stream: the response cache keeps them with its text and a
hit replays them exactly where they came, and a session keeps them (replay, export, import) as they came."""

from __future__ import annotations

import json

import pytest

from fanout.devserver import LoopbackServer
from fanout.frontends.state import RunState
from fanout.providers.anthropic_api import AnthropicProvider
from fanout.providers.base import Limits
from fanout.providers.openai_compat import OpenAIProvider
from fanout.stores import sessions
from fanout.stores.cache import ResponseCache
from fanout.strategies import events as ev
from fanout.strategies.calls import Target
from fanout.strategies.engine import Engine, RunSpec
from fanout.strategies.limits import ProviderLimiter
from fanout.strategies.recipe import from_data

KINDS = ["openai", "anthropic"]
RECIPE = from_data({
    "prompt": "Research {topic}: {title}",
    "inputs": {"topic": "tides"},
    "branches": [{"id": "moon", "title": "the Moon's pull"}, {"id": "coasts", "title": "coastal ranges"},
                 {"id": "plain", "title": "no search here", "search": False}],
    "aggregate": {"kind": "concat"},
}, "grounded.toml")


def provider(kind: str, server: LoopbackServer):
    cls = OpenAIProvider if kind == "openai" else AnthropicProvider
    base = server.base_url + "/v1" if kind == "openai" else server.base_url
    return cls(kind, model="m", base_url=base, api_key="sk-test-key", timeout=5, concurrency=4)


async def run(kind: str, server: LoopbackServer, cache: ResponseCache | None = None) -> list[ev.Event]:
    p = provider(kind, server)
    limits = Limits(timeout=5, stall_timeout=5)
    limiter = ProviderLimiter(4)
    spec = RunSpec(RECIPE, dict(RECIPE.inputs), "parallel", lambda s: Target(p, limits, limiter, "m", None, 64),
                   source=cache, web_search=3)
    events = [e async for e in Engine(spec).events()]
    await p.aclose()
    return events


def grounding(events: list[ev.Event]) -> tuple:
    """What the stream said about searches, sources and citations, without the times."""
    searches = sorted((e.branch, e.query, e.status, e.found, e.error) for e in events if isinstance(e, ev.BranchSearch))
    done = sorted((e.branch, e.sources, e.citations) for e in events if isinstance(e, ev.BranchDone))
    return searches, done


@pytest.fixture
async def server():
    s = LoopbackServer(searches=2)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def test_the_new_events_round_trip_through_plain_data():
    source = ev.Source("web", "https://a.example/x?utm_source=openai", "A", "May 2, 2025")
    cited = ev.Cited("https://a.example/x", "A", "a quote", 3, 17)
    for event in (
        ev.BranchSearch(1.0, "b", "tides", "done", 3),
        ev.BranchSearch(1.0, "b", "", "failed", error="too_many_requests"),
        ev.BranchSources(0.5, "b", "tides", (ev.Source("file", "/n/a.md", "A", "lines 1-9"),)),
        ev.BranchDone(2.0, "b", "text", ev.BranchMetrics(searches=2), sources=(source,), citations=(cited,)),
    ):
        assert ev.from_dict(json.loads(json.dumps(event.to_dict()))) == event


@pytest.mark.parametrize("kind", KINDS)
async def test_the_engine_publishes_each_search_and_keeps_what_the_answer_rests_on(server, kind):
    events = await run(kind, server)
    state = RunState.from_events(events)
    for bid in ("moon", "coasts"):
        b = state.branches[bid]
        assert [(s.status, s.found) for s in b.searches] == [("done", 3), ("done", 3)]
        assert b.searches[0].query.startswith("Research tides")
        assert len(b.received) == 6 and all(s.kind == "web" for s in b.received)
        assert len(b.cited) == 2 and b.metrics.searches == 2
    plain = state.branches["plain"]
    assert not plain.searches and not plain.received and plain.metrics.searches == 0
    assert "tools" not in next(r.body for r in server.requests if "no search here" in r.prompt)
    assert state.metrics.searches == 4


@pytest.mark.parametrize("kind", KINDS)
async def test_a_cache_hit_replays_the_searches_sources_and_citations_exactly(server, kind, tmp_path):
    cache = ResponseCache("use", directory=tmp_path / "cache")
    first = await run(kind, server, cache)
    made = len(server.requests)
    again = await run(kind, server, cache)
    cache.close()
    assert len(server.requests) == made  # every call a hit
    assert all(e.cached for e in again if isinstance(e, ev.BranchStarted))
    assert grounding(again) == grounding(first)
    # ...in the same place in the stream: each search before the tokens that followed it
    for events in (first, again):
        moon = [e for e in events if getattr(e, "branch", "") == "moon"]
        kinds = [type(e).__name__ for e in moon]
        assert kinds.index("BranchSearch") < kinds.index("BranchToken")
    assert RunState.from_events(again).sourcing.numbering == RunState.from_events(first).sourcing.numbering


@pytest.mark.parametrize("kind", KINDS)
async def test_a_session_keeps_them_through_replay_export_and_import(server, kind, tmp_path):
    events = await run(kind, server)
    spec = RunSpec(RECIPE, dict(RECIPE.inputs), "parallel", lambda s: None, session_id="grounded-1")
    recorder = sessions.Recorder(sessions.new_header(spec), tmp_path / "a")
    for e in events:
        recorder(e)
    recorder.close()
    loaded = sessions.load("grounded-1", tmp_path / "a")
    assert loaded.events == events
    exported = tmp_path / "export.json"
    exported.write_text(json.dumps(sessions.export_json(loaded)))
    sessions.import_file(exported, tmp_path / "b")
    imported = sessions.load("grounded-1", tmp_path / "b")
    replayed = [e async for e in sessions.replay(imported.events, speed=0)]
    live, back = RunState.from_events(events), RunState.from_events(replayed)
    assert back.sourcing == live.sourcing and live.sourcing.numbering.sources
    assert [b.searches for b in back.branch_list()] == [b.searches for b in live.branch_list()]
