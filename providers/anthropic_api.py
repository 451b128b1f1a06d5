"""Anthropic's messages API via the `anthropic` SDK."""

from __future__ import annotations

import json
from typing import Any

import anthropic

from .base import Citation, GenerationRequest, SearchResults, SearchStarted, StreamEnd, WebResult
from .compat_sdks import with_remembered_urls
from .http_client import http_client
from fanout.providers.sdk import Fold, SDKProvider, count, malformed_error, parse, stream_error


_AsyncAnthropic = with_remembered_urls(anthropic.AsyncAnthropic)


class AnthropicProvider(SDKProvider):
    kind = "anthropic"
    path = "/v1/messages"
    sdk = anthropic

    def _client_for(self, api_key: str, base_url: str | None, timeout: float):
        return _AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout,
                               http_client=http_client(anthropic))

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": [
                {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
            ],
            "stream": True,
        }
        if system:
            body["system"] = system
        # This SDK's create() no longer takes sampling settings; the API still accepts them in the body.
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.web_search:
            body["tools"] = [{"type": "web_search_20250305", "name": "web_search", "max_uses": request.web_search}]
        return body

    def _fold(self, request: GenerationRequest) -> Fold:
        return MessageFold()


class MessageFold(Fold):
    """Messages API events: message_start (model, input tokens), text deltas, message_delta (stop reason, output
    tokens, searches made), message_stop; pings skipped; an `error` event (e.g. overloaded_error) fails the attempt.

    With the web search tool: a `server_tool_use` block's query (streamed as JSON pieces) is a SearchStarted when
    the block stops; a `web_search_tool_result` block is a SearchResults; a text block's `citations_delta`s are
    Citations of that block's text, passed on when it stops (its end is known then)."""

    __slots__ = ("model", "input_tokens", "output_tokens", "searches", "offset", "blocks", "queries")

    def __init__(self) -> None:
        super().__init__()
        self.model = ""
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.searches: int | None = None
        self.offset = 0  # characters of answer text so far: where a citation's span starts and ends
        self.blocks: dict[int, _Block] = {}  # open search and cited text blocks, by index
        self.queries: dict[str, str] = {}  # a search's query, by its tool use id

    def event(self, name: str, data: bytes) -> str | None:
        if name == "ping":
            return None
        if name == "error":
            try:
                body = parse(data)
            except Exception:  # noqa: BLE001 - a non-JSON error event is still an error, worded as sent
                raise stream_error(data.decode("utf-8", "replace").strip()) from None
            raise stream_error(body.get("error", body))
        event = parse(data)
        kind = name or event.get("type")
        try:
            if kind == "content_block_delta":
                delta = event["delta"]
                if delta.get("type") == "text_delta":
                    text = delta.get("text")
                    if text.__class__ is not str:
                        raise TypeError(f"text is {type(text).__name__}")
                    self.offset += len(text)
                    return text or None
                self._block_delta(event["index"], delta)
            elif kind == "content_block_start":
                self._block_start(event["index"], event["content_block"])
            elif kind == "content_block_stop":
                self._block_stop(event["index"])
            elif kind == "message_start":
                message = event["message"]
                self.model = str(message.get("model") or "")
                self.input_tokens = count((message.get("usage") or {}).get("input_tokens"))
            elif kind == "message_delta":
                self.finish = str(event["delta"].get("stop_reason") or self.finish)
                usage = event.get("usage") or {}
                output_tokens = count(usage.get("output_tokens"))
                if output_tokens is not None:
                    self.output_tokens = output_tokens
                searches = count((usage.get("server_tool_use") or {}).get("web_search_requests"))
                if searches is not None:
                    self.searches = searches
            elif kind == "message_stop":
                self.done = True
            elif kind == "error":
                raise stream_error(event.get("error", event))
        except (AttributeError, TypeError, KeyError) as err:  # an event of the wrong shape
            raise malformed_error(err) from None
        return None

    def _block_start(self, index: int, block: dict) -> None:
        kind = block["type"]
        if kind == "server_tool_use" and block.get("name") == "web_search":
            self.blocks[index] = _Block(str(block["id"]))
        elif kind == "web_search_tool_result":
            query = self.queries.get(str(block.get("tool_use_id")), "")
            content = block.get("content")
            if isinstance(content, dict):  # web_search_tool_result_error
                self.items.append(SearchResults(query, error=str(content.get("error_code") or "unknown error")))
            else:
                self.items.append(SearchResults(query, tuple(_result(r) for r in content or ()
                                                             if r.get("type") == "web_search_result")))
        elif kind == "text":
            self.blocks[index] = _Block("", self.offset)
            for cite in block.get("citations") or ():
                self.blocks[index].cites.append(cite)

    def _block_delta(self, index: int, delta: dict) -> None:
        block = self.blocks.get(index)
        if block is None:
            return
        if delta.get("type") == "input_json_delta":
            block.json.append(str(delta.get("partial_json") or ""))
        elif delta.get("type") == "citations_delta":
            block.cites.append(delta["citation"])

    def _block_stop(self, index: int) -> None:
        block = self.blocks.pop(index, None)
        if block is None:
            return
        if block.tool_id:
            query = _query("".join(block.json))
            self.queries[block.tool_id] = query
            self.items.append(SearchStarted(query))
            return
        for cite in block.cites:
            if cite.get("type") == "web_search_result_location":
                self.items.append(Citation(str(cite["url"]), str(cite.get("title") or ""),
                                           str(cite.get("cited_text") or ""), block.start, self.offset))

    def end(self) -> StreamEnd:
        return StreamEnd(self.input_tokens, self.output_tokens, self.finish, self.model, searches=self.searches)


class _Block:
    """An open content block the fold follows: a search's query as it streams, or a text block's citations."""

    __slots__ = ("tool_id", "start", "json", "cites")

    def __init__(self, tool_id: str, start: int = 0) -> None:
        self.tool_id = tool_id  # a server_tool_use block's id; "" for a text block
        self.start = start  # where a text block's text starts in the answer
        self.json: list[str] = []
        self.cites: list[dict] = []


def _query(partial_json: str) -> str:
    """The search's query from its input, streamed as JSON in pieces."""
    try:
        data = json.loads(partial_json or "{}")
    except ValueError as err:
        raise malformed_error(err) from None
    return str(data.get("query") or "") if isinstance(data, dict) else ""


def _result(r: dict) -> WebResult:
    return WebResult(str(r["url"]), str(r.get("title") or ""), str(r.get("page_age") or ""))
