"""Web search through the providers' own tools, over real HTTP against the loopback server: Anthropic's
`web_search_20250305` server tool in the Messages stream, OpenAI's `web_search` through the Responses API. The
adapters turn the searches, their results and the citations into stream items beside the text; what they send is
checked against the official SDKs' own request types."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from anthropic.types.message_create_params import MessageCreateParamsStreaming
from openai.types.responses.response_create_params import ResponseCreateParamsStreaming
from sdk_shapes import sent_as

from fanout.devserver import Fault, LoopbackServer, Page
from fanout.providers.anthropic_api import AnthropicProvider
from fanout.providers.base import (Citation, GenerationRequest, Message, SearchResults, SearchStarted, StreamEnd,
                                   TextDelta)
from fanout.providers.openai_compat import OpenAIProvider

KINDS = ["openai", "anthropic"]
PROMPT = "How does the Moon drive tides"
PAGES = [
    Page("https://tides.example/moon", "How the Moon drives tides",
         "The Moon's gravity pulls the oceans into two bulges. Spring tides come at new and full moon."),
    Page("https://tides.example/sun", "The Sun and the tides",
         "The Sun raises tides about half as high as the Moon does. Its pull adds to the Moon's."),
    Page("https://coast.example/range", "Tidal range along coasts", "The Bay of Fundy has the largest tidal range."),
    Page("https://pets.example/cats", "Cats", "Cats sleep most of the day."),
]
FIRST_SENTENCE = {p.url: p.text.split(". ")[0] + "." for p in PAGES}
REQUEST = GenerationRequest("m", (Message("system", "Answer briefly."), Message("user", PROMPT)), 64, web_search=4)


def untracked(url: str) -> str:
    return url.replace("?utm_source=openai", "").replace("&utm_source=openai", "")


async def grounded(server: LoopbackServer, kind: str, request: GenerationRequest = REQUEST):
    cls = OpenAIProvider if kind == "openai" else AnthropicProvider
    base = server.base_url + "/v1" if kind == "openai" else server.base_url
    provider = cls(kind, model="m", base_url=base, api_key="sk-test-key", timeout=5, concurrency=2)
    items = []
    try:
        async for item in provider.stream(request):
            items.append(item)
    finally:
        await provider.aclose()
    text = "".join(i.text for i in items if isinstance(i, TextDelta))
    return items, text


def of(items, cls):
    return [i for i in items if isinstance(i, cls)]


@pytest.fixture
async def searching():
    server = LoopbackServer(search_pages=PAGES, searches=2, tokens=24)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize("kind", KINDS)
async def test_searches_results_and_citations_come_beside_the_text(searching, kind):
    items, text = await grounded(searching, kind)
    results = of(items, SearchResults)
    assert [r.query for r in results] == [PROMPT, f"{PROMPT} latest figures"]
    assert all(not r.error and r.results for r in results)
    assert [p.url for p in results[0].results] == [p.url for p in PAGES[:3]]  # ranked by the query's words
    started = of(items, SearchStarted)
    assert len(started) == 2
    # Each search is announced before its results: Anthropic with its query, OpenAI (which names it only at the
    # end) without.
    assert [s.query for s in started] == ([PROMPT, f"{PROMPT} latest figures"] if kind == "anthropic" else ["", ""])
    assert items.index(started[1]) < items.index(results[1])
    cites = of(items, Citation)
    assert [untracked(c.url) for c in cites] == [PAGES[0].url, PAGES[1].url]
    for c in cites:
        assert 0 <= c.start < c.end <= len(text)
        if kind == "anthropic":  # the span is the cited text block; the quote is the page's
            assert c.cited_text == FIRST_SENTENCE[untracked(c.url)]
        else:  # OpenAI's span is the Markdown link it writes into the answer
            assert text[c.start:c.end] == f"([{urlsplit(c.url).hostname}]({c.url}))"
    end = items[-1]
    assert isinstance(end, StreamEnd) and end.searches == 2 and end.output_tokens


@pytest.mark.parametrize("kind", KINDS)
async def test_what_fanout_sends_is_the_sdks_own_search_request(searching, kind):
    await grounded(searching, kind)
    sent = searching.requests[-1]
    if kind == "anthropic":
        body = sent_as(MessageCreateParamsStreaming, sent.body)
        assert sent.path == "/v1/messages"
        assert body["tools"] == [{"type": "web_search_20250305", "name": "web_search", "max_uses": 4}]
        assert body["system"] == "Answer briefly."
    else:
        body = sent_as(ResponseCreateParamsStreaming, sent.body)
        assert sent.path == "/v1/responses"
        assert body["tools"] == [{"type": "web_search"}] and body["max_tool_calls"] == 4
        assert body["include"] == ["web_search_call.action.sources"]
        assert body["instructions"] == "Answer briefly." and body["input"] == [{"role": "user", "content": PROMPT}]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_request_without_search_asks_for_none(searching, kind):
    plain = GenerationRequest("m", (Message("user", PROMPT),), 64)
    items, text = await grounded(searching, kind, plain)
    assert text and not of(items, SearchResults) and not of(items, Citation)
    sent = searching.requests[-1]
    assert "tools" not in sent.body
    assert sent.path == ("/v1/chat/completions" if kind == "openai" else "/v1/messages")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_failed_search_says_so_and_is_not_billed(searching, kind):
    searching.add_fault(Fault(search_error="too_many_requests"))
    items, text = await grounded(searching, kind)
    results = of(items, SearchResults)
    assert len(results) == 2 and all(r.error and not r.results for r in results)
    if kind == "anthropic":
        assert results[0].error == "too_many_requests"
    assert not of(items, Citation) and text
    assert items[-1].searches == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_an_empty_search_is_an_empty_result_not_an_error(searching, kind):
    searching.add_fault(Fault(empty_search=True))
    items, _ = await grounded(searching, kind)
    results = of(items, SearchResults)
    assert len(results) == 2 and all(not r.error and r.results == () for r in results)
    assert not of(items, Citation)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_citation_of_a_page_no_search_returned_is_passed_on_as_it_came(searching, kind):
    searching.add_fault(Fault(foreign_citation=True))
    items, _ = await grounded(searching, kind)
    received = {p.url for r in of(items, SearchResults) for p in r.results}
    foreign = [c for c in of(items, Citation) if untracked(c.url) not in received]
    assert [untracked(c.url) for c in foreign] == ["https://unsearched.example/how-does-the-moon-drive-tides"]


async def test_an_invented_quote_is_kept_as_quoted(searching):
    """Anthropic's results carry their pages only encrypted: a quote cannot be checked against them here, so it
    is kept exactly as the provider sent it (and the page it names must be one the search returned)."""
    searching.add_fault(Fault(invented_citation=True))
    items, _ = await grounded(searching, "anthropic")
    first = of(items, Citation)[0]
    assert first.cited_text == "A sentence that no search result contains."
    assert first.url in {p.url for r in of(items, SearchResults) for p in r.results}


async def test_reasoning_items_are_skipped():
    plain_items, plain = None, None
    for reasoning in (False, True):
        server = LoopbackServer(search_pages=PAGES, reasoning=reasoning)
        await server.start()
        try:
            items, text = await grounded(server, "openai")
        finally:
            await server.stop()
        if not reasoning:
            plain_items, plain = items, text
    assert text == plain and [type(i) for i in items] == [type(i) for i in plain_items]
    assert items[-1].output_tokens > plain_items[-1].output_tokens  # the reasoning tokens are counted
