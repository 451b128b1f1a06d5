"""Web search with citations on the loopback server: Anthropic's server tool in the Messages stream and OpenAI's
Responses API with `web_search`, parsed by the official SDKs (and strictly validated against their types), with
the search engine's corpus and every search fault."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import anthropic
import httpx
import httpx2
import openai
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from openai.types.responses import Response, ResponseStreamEvent
from devserver_cli import devserver, devserver_run
from sdk_shapes import ant, oai, raw_exchange, strict

from fanout.devserver import Fault, LoopbackServer, Page, Request, default_text

PROMPT = "How does the Moon drive tides"
PAGES = [
    Page("https://tides.example/moon", "How the Moon drives tides",
         "The Moon's gravity pulls the oceans into two bulges. Spring tides come at new and full moon.", "May 2, 2025"),
    Page("https://tides.example/sun", "The Sun and the tides",
         "The Sun raises tides about half as high as the Moon does. Its pull adds to the Moon's at syzygy."),
    Page("https://coast.example/range", "Tidal range along coasts",
         "The Bay of Fundy has the largest tidal range on Earth. It reaches sixteen metres."),
    Page("https://pets.example/cats", "Cats", "Cats sleep most of the day."),
]
BY_URL = {p.url: p for p in PAGES}
ANT_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
OAI_TOOL = {"type": "web_search"}
SOURCES = ["web_search_call.action.sources"]
LINK = re.compile(r" ?\(\[[^\]]*\]\([^)]*\)\)")


def echo(req: Request) -> str:
    return f"Tides follow the Moon because {req.prompt.lower()} and the Sun helps a little"


def ask(prompt: str = PROMPT) -> list[dict]:
    return [{"role": "user", "content": prompt}]


def untracked(url: str) -> str:
    return url.replace("?utm_source=openai", "").replace("&utm_source=openai", "")


async def anthropic_final(server: LoopbackServer, **kw) -> anthropic.types.Message:
    kw.setdefault("tools", [ANT_TOOL])
    async with ant(server) as client:
        async with client.messages.stream(model="claude-test", max_tokens=kw.pop("max_tokens", 200),
                                          messages=kw.pop("messages", ask()), **kw) as stream:  # fmt: skip
            async for _ in stream:
                pass
            return await stream.get_final_message()


async def openai_final(server: LoopbackServer, **kw) -> openai.types.responses.Response:
    kw.setdefault("tools", [OAI_TOOL])
    async with oai(server) as client:
        async with client.responses.stream(model="gpt-test", input=kw.pop("input", PROMPT), **kw) as stream:
            async for _ in stream:
                pass
            return await stream.get_final_response()


def blocks(message, kind: str) -> list:
    return [b for b in message.content if b.type == kind]


def annotations(response) -> tuple[str, list]:
    (message,) = [item for item in response.output if item.type == "message"]
    (part,) = message.content
    return part.text, part.annotations


# --------------------------------------------------------------------------------------------------
# Anthropic


async def test_anthropic_search_stream_events_through_sdk():
    async with LoopbackServer(responder=echo, search_pages=PAGES) as server, ant(server) as client:
        stream = await client.messages.create(model="claude-test", max_tokens=200, messages=ask(), tools=[ANT_TOOL],
                                              stream=True)  # fmt: skip
        events = [event async for event in stream]
    starts = [(e.index, e.content_block.type) for e in events if e.type == "content_block_start"]
    assert starts == [(0, "server_tool_use"), (1, "web_search_tool_result"), (2, "text"), (3, "text"), (4, "text")]
    query = "".join(e.delta.partial_json for e in events if e.type == "content_block_delta" and e.index == 0)
    assert json.loads(query) == {"query": PROMPT}
    for index in (2, 3):  # the cited blocks: citations [] at the start, the citation before the first text
        start = next(e for e in events if e.type == "content_block_start" and e.index == index)
        assert start.content_block.citations == []
        deltas = [e.delta.type for e in events if e.type == "content_block_delta" and e.index == index]
        assert deltas[0] == "citations_delta" and set(deltas[1:]) == {"text_delta"}
    uncited = next(e for e in events if e.type == "content_block_start" and e.index == 4)
    assert uncited.content_block.citations is None
    (delta,) = [e for e in events if e.type == "message_delta"]
    assert delta.usage.server_tool_use.web_search_requests == 1


async def test_anthropic_final_message_has_searches_results_and_checked_citations():
    async with LoopbackServer(responder=echo, search_pages=PAGES) as server:
        message = await anthropic_final(server)
    (use,) = blocks(message, "server_tool_use")
    assert (use.name, use.input) == ("web_search", {"query": PROMPT})
    (result,) = blocks(message, "web_search_tool_result")
    assert result.tool_use_id == use.id
    found = [r.url for r in result.content]
    assert found == ["https://tides.example/moon", "https://tides.example/sun", "https://coast.example/range"]
    assert result.content[0].page_age == "May 2, 2025" and result.content[0].encrypted_content
    texts = blocks(message, "text")
    assert "".join(t.text for t in texts) == echo(Request("", {}, {}, "anthropic", 0, PROMPT, 0.0))
    cites = [c for t in texts for c in t.citations or []]
    assert [c.url for c in cites] == found[:2]  # the first two results, in the order received
    for cite in cites:
        assert cite.type == "web_search_result_location" and cite.encrypted_index
        assert cite.title == BY_URL[cite.url].title
        assert cite.cited_text and cite.cited_text in BY_URL[cite.url].text
    assert message.usage.server_tool_use.web_search_requests == 1
    result_words = sum(len(f"{BY_URL[u].title} {BY_URL[u].text}".split()) for u in found)
    assert message.usage.input_tokens == len(PROMPT.split()) + result_words


async def test_anthropic_non_streaming_search_matches_the_stream():
    async with LoopbackServer(responder=echo, search_pages=PAGES, searches=2) as server, ant(server) as client:
        whole = await client.messages.create(model="claude-test", max_tokens=200, messages=ask(), tools=[ANT_TOOL])
        streamed = await anthropic_final(server)

    def shape(message) -> list[dict]:
        return [{k: v for k, v in b.model_dump().items() if k not in ("id", "tool_use_id")} for b in message.content]

    assert shape(whole) == shape(streamed)
    assert [b.type for b in whole.content][:4] == ["server_tool_use", "web_search_tool_result"] * 2
    assert whole.usage.server_tool_use.web_search_requests == 2 == streamed.usage.server_tool_use.web_search_requests


async def test_anthropic_raw_search_stream_and_body_validate_strictly(loopback):
    body = {"model": "m", "max_tokens": 100, "messages": ask(), "tools": [ANT_TOOL]}
    events, whole = await raw_exchange(loopback, "/v1/messages", body, RawMessageStreamEvent)
    strict(Message, whole)
    assert {e[1]["type"] for e in events} >= {"message_start", "content_block_start", "content_block_delta",
                                              "content_block_stop", "message_delta", "message_stop"}  # fmt: skip


async def test_anthropic_search_stream_cut_after_the_searches():
    async with LoopbackServer(search_pages=PAGES) as server, ant(server) as client:
        server.add_fault(Fault(disconnect_after=0))
        stream = await client.messages.create(model="claude-test", max_tokens=100, messages=ask(), tools=[ANT_TOOL],
                                              stream=True)  # fmt: skip
        seen = []
        with pytest.raises((anthropic.APIConnectionError, httpx2.RemoteProtocolError)):
            async for event in stream:
                seen.append(event)
    kinds = [e.content_block.type for e in seen if e.type == "content_block_start"]
    assert kinds == ["server_tool_use", "web_search_tool_result"]  # searches arrived, then the cut


async def test_anthropic_max_tokens_cuts_the_cited_answer():
    async with LoopbackServer(responder=echo, search_pages=PAGES) as server:
        message = await anthropic_final(server, max_tokens=4)
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 4
    assert "".join(t.text for t in blocks(message, "text")).split() == echo(
        Request("", {}, {}, "anthropic", 0, PROMPT, 0.0)).split()[:4]


# --------------------------------------------------------------------------------------------------
# OpenAI Responses


async def test_openai_search_stream_events_through_sdk():
    async with LoopbackServer(responder=echo, search_pages=PAGES) as server, oai(server) as client:
        stream = await client.responses.create(model="gpt-test", input=PROMPT, tools=[OAI_TOOL], include=SOURCES,
                                               stream=True)  # fmt: skip
        events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds[:8] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.web_search_call.in_progress", "response.web_search_call.searching",
        "response.web_search_call.completed", "response.output_item.done", "response.output_item.added",
    ]  # fmt: skip
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]  # fmt: skip
    added = events[2].item
    assert (added.type, added.status, added.action.type) == ("web_search_call", "in_progress", "search")
    done = events[6].item
    assert done.status == "completed" and done.action.query == PROMPT
    assert [s.url for s in done.action.sources] == [p.url for p in PAGES[:3]]
    text = ""
    for event in events:
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.output_text.annotation.added":
            note = event.annotation
            assert text[note.start_index:note.end_index] == f"([{urlsplit(note.url).hostname}]({note.url}))"
            assert text.endswith(text[note.start_index:note.end_index] + " ")  # right after the link arrives
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.usage.output_tokens == sum(1 for k in kinds if k == "response.output_text.delta")


async def test_openai_final_response_has_search_calls_and_url_citations():
    async with LoopbackServer(responder=echo, search_pages=PAGES) as server:
        response = await openai_final(server, include=SOURCES)
    calls = [item for item in response.output if item.type == "web_search_call"]
    assert [(c.status, c.action.query) for c in calls] == [("completed", PROMPT)]
    sources = [s.url for s in calls[0].action.sources]
    text, notes = annotations(response)
    assert response.output_text == text
    assert LINK.sub("", text) == echo(Request("", {}, {}, "openai", 0, PROMPT, 0.0))
    assert [untracked(n.url) for n in notes] == sources[:2]
    for note in notes:
        assert note.type == "url_citation" and note.title == BY_URL[untracked(note.url)].title
        assert text[note.start_index:note.end_index] == f"([{urlsplit(note.url).hostname}]({note.url}))"
        assert note.url.endswith("?utm_source=openai")  # as OpenAI cites: adapters must compare URLs without it
    assert response.tool_usage.web_search.num_requests == 1
    result_words = sum(len(f"{BY_URL[u].title} {BY_URL[u].text}".split()) for u in sources)
    assert response.usage.input_tokens == len(PROMPT.split()) + result_words


async def test_openai_sources_only_when_included():
    async with LoopbackServer(search_pages=PAGES) as server:
        response = await openai_final(server)
    (call,) = [item for item in response.output if item.type == "web_search_call"]
    assert call.action.query == PROMPT and call.action.sources is None


async def test_openai_raw_search_stream_and_body_validate_strictly(loopback):
    loopback.reasoning = True
    body = {"model": "m", "input": PROMPT, "tools": [OAI_TOOL], "include": SOURCES, "reasoning": {"summary": "auto"}}
    events, whole = await raw_exchange(loopback, "/v1/responses", body, ResponseStreamEvent)
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    final = strict(Response, whole)
    assert [item.type for item in final.output] == ["reasoning", "web_search_call", "message"]
    assert final.output[2].content[0].annotations


# --------------------------------------------------------------------------------------------------
# the corpus


async def test_given_pages_are_ranked_by_the_query():
    async with LoopbackServer(search_pages=PAGES, search_results=2) as server:
        message = await anthropic_final(server, messages=ask("largest tidal range on Earth"))
    (result,) = blocks(message, "web_search_tool_result")
    assert [r.url for r in result.content] == ["https://coast.example/range", "https://tides.example/moon"]


async def test_a_corpus_function_gets_each_query():
    queries = []

    def corpus(query: str) -> list[dict]:
        queries.append(query)
        return [{"url": f"https://fn.example/{i}", "title": f"Page {i}", "text": f"Fact number {i}."} for i in range(5)]

    async with LoopbackServer(search_pages=corpus, searches=2) as server:
        message = await anthropic_final(server)
    assert queries == [PROMPT, f"{PROMPT} latest figures"]
    results = blocks(message, "web_search_tool_result")
    assert [len(r.content) for r in results] == [5, 5]  # a function's pages come back as they are
    cites = [c for t in blocks(message, "text") for c in t.citations or []]
    assert [(c.url, c.cited_text) for c in cites] == [("https://fn.example/0", "Fact number 0."),
                                                      ("https://fn.example/1", "Fact number 1.")]  # fmt: skip


async def test_made_up_pages_follow_the_query(loopback):
    first = await anthropic_final(loopback)
    again = await anthropic_final(loopback)
    other = await anthropic_final(loopback, messages=ask("Something else entirely"))
    urls = [[r.url for r in blocks(m, "web_search_tool_result")[0].content] for m in (first, again, other)]
    assert urls[0] == urls[1] and len(urls[0]) == 3
    assert not set(urls[0]) & set(urls[2])
    for message in (first, other):
        (result,) = blocks(message, "web_search_tool_result")
        for cite in (c for t in blocks(message, "text") for c in t.citations or []):
            assert cite.url in [r.url for r in result.content]


def test_cli_search_file_and_its_errors(tmp_path):
    pages = tmp_path / "pages.json"
    pages.write_text(json.dumps([{"url": p.url, "title": p.title, "text": p.text} for p in PAGES]))
    with devserver("--search", str(pages), "--searches", "2", "--reasoning", "--batch-delay", "100000") as url:
        body = {"model": "m", "max_tokens": 50, "messages": ask(), "tools": [ANT_TOOL]}
        content = httpx.post(f"{url}/v1/messages", json=body, timeout=5).json()["content"]
        results = [b["content"] for b in content if b["type"] == "web_search_tool_result"]
        assert [[r["url"] for r in found] for found in results] == [[p.url for p in PAGES[:3]]] * 2
        output = httpx.post(f"{url}/v1/responses", json={"model": "m", "input": PROMPT}, timeout=5).json()["output"]
        assert [item["type"] for item in output] == ["reasoning", "message"]
        batch = httpx.post(f"{url}/v1/messages/batches", timeout=5,
                           json={"requests": [{"custom_id": "a", "params": body}]}).json()  # fmt: skip
        again = httpx.get(f"{url}/v1/messages/batches/{batch['id']}", timeout=5).json()
        assert again["processing_status"] == "in_progress" and again["request_counts"]["processing"] == 1

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"url": "https://a.example", "title": "A", "text": 3}]))
    for args, message in (([str(bad)], f"--search {bad}: [0].text: expected a string"),
                          ([str(tmp_path / "none.json")], "none.json"),
                          ([str(pages), "--searches", "-1"], "--searches -1")):  # fmt: skip
        done = devserver_run("--search", *args)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_cli_help_names_the_search_and_batch_flags():
    done = devserver_run("--help")
    assert done.returncode == 0
    for flag in ("--search FILE", "--searches N", "--reasoning", "--batch-delay SECONDS"):
        assert flag in done.stdout


# --------------------------------------------------------------------------------------------------
# search faults


@pytest.mark.parametrize("code", ["too_many_requests", "unavailable"])
async def test_search_error_both_apis(code):
    async with LoopbackServer(search_pages=PAGES) as server:
        server.add_fault(Fault(search_error=code), times=2)
        message = await anthropic_final(server)
        response = await openai_final(server, include=SOURCES)
        again = await anthropic_final(server)  # the fault is spent
    (result,) = blocks(message, "web_search_tool_result")
    assert (result.content.type, result.content.error_code) == ("web_search_tool_result_error", code)
    assert not any(t.citations for t in blocks(message, "text"))
    assert message.usage.server_tool_use.web_search_requests == 0  # a failed search is not billed
    (call,) = [item for item in response.output if item.type == "web_search_call"]
    assert call.status == "failed" and call.action.sources is None
    assert annotations(response)[1] == [] and response.tool_usage.web_search.num_requests == 0
    assert isinstance(blocks(again, "web_search_tool_result")[0].content, list)


async def test_search_error_events_on_openai(loopback):
    loopback.add_fault(Fault(search_error="unavailable"))
    async with oai(loopback) as client:
        stream = await client.responses.create(model="m", input=PROMPT, tools=[OAI_TOOL], stream=True)
        kinds = [event.type async for event in stream]
    assert "response.web_search_call.searching" in kinds and "response.web_search_call.completed" not in kinds


async def test_searches_past_max_uses_fail_and_past_max_tool_calls_are_not_made():
    async with LoopbackServer(search_pages=PAGES, searches=3) as server:
        message = await anthropic_final(server, tools=[{**ANT_TOOL, "max_uses": 2}])
        response = await openai_final(server, max_tool_calls=2)
    results = blocks(message, "web_search_tool_result")
    assert len(blocks(message, "server_tool_use")) == 3
    assert [isinstance(r.content, list) for r in results] == [True, True, False]
    assert results[2].content.error_code == "max_uses_exceeded"
    assert message.usage.server_tool_use.web_search_requests == 2
    assert sum(1 for item in response.output if item.type == "web_search_call") == 2


async def test_empty_search_results():
    async with LoopbackServer(responder=echo, search_pages=PAGES) as server:
        server.add_fault(Fault(empty_search=True), times=2)
        message = await anthropic_final(server)
        response = await openai_final(server, include=SOURCES)
    (result,) = blocks(message, "web_search_tool_result")
    assert result.content == [] and message.usage.server_tool_use.web_search_requests == 1
    (text,) = blocks(message, "text")
    assert text.citations is None and text.text == echo(Request("", {}, {}, "anthropic", 0, PROMPT, 0.0))
    (call,) = [item for item in response.output if item.type == "web_search_call"]
    assert call.status == "completed" and call.action.sources == []
    assert annotations(response)[1] == []


async def test_invented_citation_quotes_text_no_result_has():
    async with LoopbackServer(search_pages=PAGES) as server:
        server.add_fault(Fault(invented_citation=True))
        message = await anthropic_final(server)
    (result,) = blocks(message, "web_search_tool_result")
    received = {r.url for r in result.content}
    first, second = [c for t in blocks(message, "text") for c in t.citations or []]
    assert first.url in received  # a real result's page...
    assert not any(first.cited_text in p.text for p in PAGES)  # ...quoting what it does not say
    assert second.cited_text in BY_URL[second.url].text


async def test_foreign_citation_names_a_page_no_search_returned():
    async with LoopbackServer(search_pages=PAGES) as server:
        server.add_fault(Fault(foreign_citation=True), times=2)
        message = await anthropic_final(server)
        response = await openai_final(server, include=SOURCES)
    received = {r.url for r in blocks(message, "web_search_tool_result")[0].content}
    cites = [c for t in blocks(message, "text") for c in t.citations or []]
    assert [c.url in received for c in cites] == [True, True, False]
    (call,) = [item for item in response.output if item.type == "web_search_call"]
    sources = {s.url for s in call.action.sources}
    text, notes = annotations(response)
    assert [untracked(n.url) in sources for n in notes] == [True, True, False]
    foreign = "https://unsearched.example/how-does-the-moon-drive-tides?utm_source=openai"
    assert text.endswith(f" ([unsearched.example]({foreign}))")
    for note in notes:  # the last link ends the text: its span too is exactly the link
        assert text[note.start_index:note.end_index] == f"([{urlsplit(note.url).hostname}]({note.url}))"


def test_unmatched_faults_never_reach_batch_lines():
    server = LoopbackServer()
    server.add_fault(Fault(status=500))
    line = Request("/v1/messages", {}, {}, "anthropic", 0, "", 0.0, custom_id="a")
    assert server.take_fault(line) is None
    assert server.take_fault(Request("/v1/messages", {}, {}, "anthropic", 1, "", 0.0)).status == 500


def test_default_text_is_what_a_search_answer_cites_around(loopback_thread):
    body = {"model": "m", "max_tokens": 50, "messages": ask(), "tools": [ANT_TOOL]}
    content = httpx.post(f"{loopback_thread.base_url}/v1/messages", json=body, timeout=5).json()["content"]
    assert "".join(b["text"] for b in content if b["type"] == "text") == default_text(PROMPT, "m")
