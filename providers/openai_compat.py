"""OpenAI and every OpenAI-compatible server (llama.cpp server, vLLM, Ollama, OpenRouter) via `openai`.

A request that asks for web search goes to the Responses API (`/responses`, OpenAI's own endpoint: others do not
search), read with the same lean event reader as Chat Completions."""

from __future__ import annotations

from typing import Any

import openai

from .base import Citation, GenerationRequest, SearchResults, SearchStarted, StreamEnd, WebResult
from .compat_sdks import with_remembered_urls
from .http_client import http_client
from fanout.providers.sdk import Fold, SDKProvider, count, malformed_error, parse, stream_error


_AsyncOpenAI = with_remembered_urls(openai.AsyncOpenAI)


RESPONSES_PATH = "/responses"
SEARCH_SOURCES = "web_search_call.action.sources"  # asked for in `include`: each search's pages


class OpenAIProvider(SDKProvider):
    kind = "openai"
    path = "/chat/completions"
    sdk = openai

    def _client_for(self, api_key: str, base_url: str | None, timeout: float):
        return _AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout,
                            http_client=http_client(openai))

    def _path(self, request: GenerationRequest) -> str:
        return RESPONSES_PATH if request.web_search else self.path

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        if request.web_search:
            return responses_body(request)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is not None:
            body["response_format"] = response_format(request.json_schema)
        return body

    def _fold(self, request: GenerationRequest) -> Fold:
        return ResponseFold() if request.web_search else ChunkFold()


def responses_body(request: GenerationRequest) -> dict[str, Any]:
    """A Responses API request with the web search tool: system messages become its instructions."""
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    body: dict[str, Any] = {
        "model": request.model,
        "input": [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"],
        "max_output_tokens": request.max_tokens,
        "stream": True,
        "tools": [{"type": "web_search"}],
        "include": [SEARCH_SOURCES],
        "max_tool_calls": request.web_search,
    }
    if system:
        body["instructions"] = system
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.json_schema is not None:
        fmt = response_format(request.json_schema)["json_schema"]
        body["text"] = {"format": {"type": "json_schema", **fmt}}
    return body


def response_format(schema: dict) -> dict:
    """Structured output: OpenAI (and llama.cpp's server, vLLM) constrain the answer to the schema. Strict only
    when the schema is written the way strict mode demands (every property required, no others)."""
    strict = _strict(schema)
    if strict:
        schema = _without(schema, _UNSTRICT)
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": strict}}


_UNSTRICT = frozenset({"maxLength", "minLength"})  # string lengths: refused by OpenAI's strict mode


def _without(schema: Any, keys: frozenset[str]) -> Any:
    if isinstance(schema, dict):
        return {k: _without(v, keys) for k, v in schema.items() if k not in keys}
    if isinstance(schema, list):
        return [_without(v, keys) for v in schema]
    return schema


def _strict(schema: dict) -> bool:
    if schema.get("type") == "object":
        props = schema.get("properties") or {}
        return (schema.get("additionalProperties") is False and set(schema.get("required") or ()) == set(props)
                and all(_strict(p) for p in props.values()))
    if schema.get("type") == "array":
        return _strict(schema.get("items") or {})
    return "type" in schema


class ChunkFold(Fold):
    """`chat.completion.chunk` events: a content delta, a finish reason, then (when asked) a usage chunk and
    `[DONE]`. A server that closes the stream without `[DONE]` is fine once a finish reason came."""

    __slots__ = ("model", "usage")

    def __init__(self) -> None:
        super().__init__()
        self.model = ""
        self.usage: dict | None = None

    def event(self, name: str, data: bytes) -> str | None:
        if data.startswith(b"[DONE]"):
            self.done = True
            return None
        chunk = parse(data)
        if chunk.get("error"):
            raise stream_error(chunk["error"])
        try:
            self.model = chunk.get("model") or self.model
            usage = chunk.get("usage")
            if usage:
                self.usage = usage
            text = None
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta")
                content = delta.get("content") if delta else None
                if content:
                    if content.__class__ is not str:
                        raise TypeError(f"content is {type(content).__name__}, not text")
                    text = content if text is None else text + content
                if choice.get("finish_reason"):
                    self.finish = str(choice["finish_reason"])
        except (AttributeError, TypeError) as err:  # a chunk of the wrong shape
            raise malformed_error(err) from None
        return text

    def end(self) -> StreamEnd:
        usage = self.usage or {}
        return StreamEnd(
            input_tokens=count(usage.get("prompt_tokens")),
            output_tokens=count(usage.get("completion_tokens")),
            finish_reason=self.finish,
            model=str(self.model),
        )


class ResponseFold(Fold):
    """Responses API events: text from `response.output_text.delta`; a `web_search_call` item is a SearchStarted
    when added and a SearchResults when done (its action's query and sources); `url_citation` annotations are
    Citations; `response.completed` (or `.incomplete`) ends it with the usage. Reasoning items and every other
    event are skipped."""

    __slots__ = ("model", "usage", "searches", "offset", "part_start", "calls")

    def __init__(self) -> None:
        super().__init__()
        self.model = ""
        self.usage: dict = {}
        self.searches: int | None = None
        self.offset = 0  # characters of answer text so far
        self.part_start = 0  # where the current text part starts: annotation indexes count from there
        self.calls = 0  # search calls that completed, for a response that does not count them itself

    def event(self, name: str, data: bytes) -> str | None:
        event = parse(data)
        kind = name or event.get("type")
        try:
            if kind == "response.output_text.delta":
                text = event["delta"]
                if text.__class__ is not str:
                    raise TypeError(f"delta is {type(text).__name__}, not text")
                self.offset += len(text)
                return text or None
            if kind == "response.output_text.annotation.added":
                self._annotation(event["annotation"])
            elif kind == "response.content_part.added":
                self.part_start = self.offset
            elif kind in ("response.output_item.added", "response.output_item.done"):
                self._item(event["item"], kind.endswith("done"))
            elif kind in ("response.completed", "response.incomplete"):
                self._finish(event["response"])
            elif kind in ("error", "response.failed"):
                raise stream_error(event.get("response", {}).get("error") if kind == "response.failed" else event)
        except (AttributeError, TypeError, KeyError) as err:  # an event of the wrong shape
            raise malformed_error(err) from None
        return None

    def _annotation(self, note: dict) -> None:
        if note.get("type") == "url_citation":
            self.items.append(Citation(str(note["url"]), str(note.get("title") or ""), "",
                                       self.part_start + int(note["start_index"]),
                                       self.part_start + int(note["end_index"])))

    def _item(self, item: dict, done: bool) -> None:
        if item.get("type") != "web_search_call":
            return
        if not done:
            self.items.append(SearchStarted())
            return
        action = item.get("action") or {}
        query = str(action.get("query") or action.get("url") or "")
        if item.get("status") == "failed":
            self.items.append(SearchResults(query, error="failed"))
            return
        self.calls += 1
        pages = tuple(WebResult(str(s["url"]), str(s.get("title") or "")) for s in action.get("sources") or ()
                      if s.get("url"))
        self.items.append(SearchResults(query, pages))

    def _finish(self, response: dict) -> None:
        self.done = True
        details = response.get("incomplete_details") or {}
        status = str(response.get("status") or "completed")
        self.finish = "length" if details.get("reason") == "max_output_tokens" else "stop" if status == "completed" else status
        self.model = str(response.get("model") or self.model)
        self.usage = response.get("usage") or {}
        web = ((response.get("tool_usage") or {}).get("web_search") or {}).get("num_requests")
        self.searches = count(web) if web is not None else self.calls

    def end(self) -> StreamEnd:
        return StreamEnd(count(self.usage.get("input_tokens")), count(self.usage.get("output_tokens")), self.finish,
                         self.model, searches=self.searches)
