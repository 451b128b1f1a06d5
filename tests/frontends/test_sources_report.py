"""A grounded run shown: the aggregate is given each report with its numbered sources and asked to cite them; its
`[n]` are checked, and one that no branch retrieved is flagged in the report, the JSON and the printer; the
searches show as progress."""

from __future__ import annotations

import io
import json
import re

import pytest

from fanout.devserver import LoopbackServer, Request, default_text
from fanout.frontends.headless import Printer
from fanout.frontends.report import to_json, to_markdown
from fanout.frontends.state import RunState
from fanout.providers.anthropic_api import AnthropicProvider
from fanout.providers.base import Limits, Prices
from fanout.providers.openai_compat import OpenAIProvider
from fanout.strategies.calls import Target
from fanout.strategies.engine import Engine, RunSpec
from fanout.strategies.limits import ProviderLimiter
from fanout.strategies.prompting import CITE_RULE
from fanout.strategies.recipe import from_data

KINDS = ["openai", "anthropic"]
SYNTHESIS_TASK = "Synthesise the reports on tides."  # the aggregate's prompt ends with its task
SYNTHESIS = "The Moon drives the tides [1]. The coasts differ [2, 1]. An invented source [42]."
RECIPE = from_data({
    "prompt": "Research {topic}: {title}",
    "inputs": {"topic": "tides"},
    "branches": [{"id": "moon", "title": "the Moon's pull"}, {"id": "coasts", "title": "coastal ranges"}],
    "aggregate": {"kind": "synthesize", "prompt": "Synthesise the reports on {topic}."},
}, "grounded.toml")


def answer(req: Request) -> str:
    return SYNTHESIS if req.prompt.endswith(SYNTHESIS_TASK) else default_text(req.prompt, "m", 12)


async def grounded_run(kind: str) -> tuple[RunState, list, LoopbackServer]:
    server = LoopbackServer(searches=2, responder=answer)
    await server.start()
    cls = OpenAIProvider if kind == "openai" else AnthropicProvider
    p = cls(kind, model="m", base_url=server.base_url + ("/v1" if kind == "openai" else ""), api_key="sk-test",
            timeout=5, concurrency=4)
    limits = Limits(timeout=5, stall_timeout=5, prices={"*": Prices(1.0, 2.0, 10.0)})
    limiter = ProviderLimiter(4)
    spec = RunSpec(RECIPE, dict(RECIPE.inputs), "parallel", lambda s: Target(p, limits, limiter, "m", None, 64),
                   web_search=3)
    events = [e async for e in Engine(spec).events()]
    await p.aclose()
    await server.stop()
    return RunState.from_events(events), events, server


@pytest.mark.parametrize("kind", KINDS)
async def test_the_aggregate_sees_each_report_with_its_numbered_sources(kind):
    state, _, server = await grounded_run(kind)
    prompt = next(r.prompt for r in server.requests if r.prompt.endswith(SYNTHESIS_TASK))
    assert CITE_RULE in prompt
    numbering = state.sourcing.numbering
    for bid in ("moon", "coasts"):
        listed = [f"[{s.n}] {s.title or '(untitled)'} — {s.ref}" for s in numbering.of_branch(bid)]
        assert len(listed) == 6 and "\n".join(listed) in prompt  # each report ends with the sources it read
        # ...and its answer carries its citations as the run's [n]
        assert state.sourcing.marked[bid] in prompt and re.search(r"\[\d+\]", state.sourcing.marked[bid])
    assert "utm_source" not in prompt  # OpenAI's links became the run's marks; its URLs are listed without it


@pytest.mark.parametrize("kind", KINDS)
async def test_an_invented_citation_in_the_synthesis_is_flagged_everywhere(kind):
    state, events, _ = await grounded_run(kind)
    assert state.sourcing.unverified == [42]
    doc = json.loads(json.dumps(to_json(state)))
    assert doc["aggregate"]["citations"] == [{"n": 1, "verified": True}, {"n": 2, "verified": True},
                                             {"n": 42, "verified": False}]
    assert doc["metrics"]["quality"]["citations"] == {"cited": 3, "verified": 2, "unverified": [42]}
    assert doc["metrics"]["quality"]["sources"] == len(doc["sources"]) == 12
    report = to_markdown(state)
    assert "**Unverified citations:** [42] (no source has this number)" in report
    assert re.search(r"^- \[1\] .* — `https://[^`]+` \(moon\)$", report, re.M)


@pytest.mark.parametrize("kind", KINDS)
async def test_the_json_gives_each_branch_its_sources_citations_and_searches(kind):
    state, _, _ = await grounded_run(kind)
    doc = to_json(state)
    moon = next(b for b in doc["branches"] if b["id"] == "moon")
    assert [s["n"] for s in moon["sources"]] == [1, 2, 3, 4, 5, 6]
    assert all(set(s) == {"n", "url", "title", "kind"} and s["kind"] == "web" for s in moon["sources"])
    assert all("utm_source" not in s["url"] for s in moon["sources"])
    assert [(c["n"], c["verified"]) for c in moon["citations"]] == [(1, True), (2, True)]
    assert all({"n", "url", "cited_text", "start", "end"} <= set(c) for c in moon["citations"])
    assert [q["status"] for q in moon["searches"]] == ["done", "done"]
    assert moon["metrics"]["searches"] == 2
    # two searches at $10 per 1,000, on top of the tokens
    m = moon["metrics"]
    assert m["cost"] == pytest.approx((m["input_tokens"] * 1.0 + m["output_tokens"] * 2.0) / 1e6 + 0.02)
    assert doc["metrics"]["searches"] == 4
    assert [s["branches"] for s in doc["sources"]][:1] == [["moon"]]


async def test_the_printer_shows_the_searches_as_progress():
    _, events, _ = await grounded_run("anthropic")
    out = io.StringIO()
    printer = Printer(out, live=False)
    for e in events:
        printer.handle(e)
    lines = out.getvalue()
    assert 'moon: searching "Research tides: the Moon' in lines
    assert re.search(r'moon: searched "Research tides: the Moon.*": 3 pages', lines)


def test_the_fold_ends_each_search_where_it_began_and_forgets_an_abandoned_attempts():
    from fanout.strategies import events as ev

    start = [ev.RunStarted(0.0, "s", "r", "parallel", "p", "m", {}, (ev.BranchInfo("b", "B"),), "concat", 0.0)]
    searches = [
        ev.BranchSearch(0.1, "b"),  # OpenAI names the query only when the search ends
        ev.BranchSearch(0.2, "b", "tides", "done", 3),
        ev.BranchSearch(0.3, "b", "ranges"),
        ev.BranchSearch(0.4, "b", "ranges", "failed", error="unavailable"),
    ]
    state = RunState.from_events(start + searches)
    assert [(s.query, s.status, s.found, s.error) for s in state.branches["b"].searches] == [
        ("tides", "done", 3, ""), ("ranges", "failed", 0, "unavailable")]
    retried = start + searches + [ev.BranchRetrying(0.5, "b", 1, 0.1, "dropped"),  # before any text: no restart
                                  ev.BranchSearch(0.6, "b", "tides again")]
    assert [s.query for s in RunState.from_events(retried).branches["b"].searches] == ["tides again"]
