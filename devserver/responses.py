"""OpenAI's Responses API (`POST /v1/responses`), streaming and not, with web search and a reasoning item.

A stream is `response.created`, `response.in_progress`, then one output item after another, each opened by
`response.output_item.added` and closed by `response.output_item.done`: a `reasoning` item (when the request asks
for `reasoning` or the server plays a reasoning model), one `web_search_call` per search (`…in_progress`,
`…searching`, `…completed`; its `action` carries the query, and the sources when the request's `include` names
`web_search_call.action.sources`), then the `message` (`response.content_part.added`, `response.output_text.delta`
per word, `response.output_text.annotation.added` after each citation, `response.output_text.done`,
`response.content_part.done`), and `response.completed` (or `response.incomplete` when `max_output_tokens` cut
the answer) with the whole response and its usage. Every event carries a `sequence_number` from 0.

As in OpenAI's own answers, a citation is written into the text as a Markdown link, `([host](url))`, whose URL
carries `utm_source=openai`; the `url_citation` annotation's `start_index` / `end_index` span exactly that link.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .http11 import json_bytes
from .search import Citation, Grounded, Part, Search
from .texts import prompt_words
from .wire import WireFormat

if TYPE_CHECKING:
    from .faults import Request

SOURCES = "web_search_call.action.sources"
REASONING_SUMMARY = "Weighing what the question needs before answering."
REASONING_TOKENS = 16


def tracked(url: str) -> str:
    """The URL as OpenAI cites it: with `utm_source=openai` added to its query."""
    return url + ("&" if urlsplit(url).query else "?") + "utm_source=openai"


def link(cite: Citation) -> str:
    return f"([{urlsplit(cite.url).hostname or cite.url}]({tracked(cite.url)}))"


def cited_text(parts: list[Part]) -> tuple[list[str], dict[int, dict]]:
    """The streamed chunks (the words, each citation's link after its part) and the annotation that a chunk
    completes, by chunk index (a link is one chunk)."""
    chunks: list[str] = []
    notes: dict[int, dict] = {}
    offset = 0
    for part in parts:
        for word in part.words:
            chunks.append(word)
            offset += len(word)
        if part.citation is None:
            continue
        text = link(part.citation)
        spaced = not chunks or chunks[-1][-1:].isspace()
        chunk = text + " " if spaced else " " + text
        start = offset if spaced else offset + 1
        chunks.append(chunk)
        offset += len(chunk)
        note = {"type": "url_citation", "start_index": start, "end_index": start + len(text),
                "title": part.citation.title, "url": tracked(part.citation.url)}  # fmt: skip
        notes[len(chunks) - 1] = note
    return chunks, notes


class ResponsesFormat(WireFormat):
    def __init__(
        self,
        req: Request,
        words: list[str],
        truncated: bool,
        grounded: Grounded | None,
        *,
        reasoning: bool,
        usage: bool,
    ) -> None:
        self.req = req
        self.grounded = grounded
        parts = grounded.parts if grounded is not None else [Part(words)]
        self.words, self.notes = cited_text(parts)
        self.truncated = truncated
        self.reasoning = reasoning or isinstance(req.body.get("reasoning"), dict)
        self.send_usage = usage
        self.id = f"resp_loopback{req.index:08x}"
        self.id_header = ("x-request-id", f"req_{req.index:08x}")
        self.model = str(req.body.get("model", "loopback"))
        self.created = int(time.time())
        self.seq = 0
        include = req.body.get("include")
        self.sources = isinstance(include, list) and SOURCES in include

    # ------------------------------------------------------------------ the output items

    @property
    def searches(self) -> list[Search]:
        return self.grounded.searches if self.grounded is not None else []

    @property
    def summary(self) -> str | None:
        asked = self.req.body.get("reasoning")
        return REASONING_SUMMARY if isinstance(asked, dict) and asked.get("summary") else None

    def reasoning_item(self, done: bool) -> dict:
        summary = [{"type": "summary_text", "text": self.summary}] if done and self.summary else []
        return {"id": f"rs_loopback{self.req.index:08x}", "type": "reasoning", "summary": summary}

    def search_item(self, s: int, search: Search, done: bool) -> dict:
        action: dict[str, Any] = {"type": "search"}
        status = "in_progress"
        if done:
            action["query"] = search.query
            if self.sources and search.error is None:
                action["sources"] = [{"type": "url", "url": page.url} for page in search.results]
            status = "failed" if search.error else "completed"
        return {"id": f"ws_loopback{self.req.index:08x}{s:04x}", "type": "web_search_call", "status": status,
                "action": action}  # fmt: skip

    def text_part(self, done: bool) -> dict:
        notes = [self.notes[i] for i in sorted(self.notes)] if done else []
        text = "".join(self.words) if done else ""
        return {"type": "output_text", "text": text, "annotations": notes, "logprobs": []}

    def message_item(self, done: bool) -> dict:
        status = ("incomplete" if self.truncated else "completed") if done else "in_progress"
        return {"id": f"msg_loopback{self.req.index:08x}", "type": "message", "status": status, "role": "assistant",
                "content": [self.text_part(True)] if done else []}  # fmt: skip

    def output(self) -> list[dict]:
        items = [self.reasoning_item(True)] if self.reasoning else []
        items += [self.search_item(s, search, True) for s, search in enumerate(self.searches)]
        return items + [self.message_item(True)]

    @property
    def message_index(self) -> int:
        return int(self.reasoning) + len(self.searches)

    # ------------------------------------------------------------------ the response object

    def usage(self) -> dict:
        reasoning = REASONING_TOKENS if self.reasoning else 0
        given = prompt_words(self.req.body) + (self.grounded.result_words if self.grounded else 0)
        made = len(self.words) + reasoning
        return {"input_tokens": given, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": made, "output_tokens_details": {"reasoning_tokens": reasoning},
                "total_tokens": given + made}  # fmt: skip

    def tool_usage(self) -> dict:
        image = {"input_tokens": 0, "input_tokens_details": {"image_tokens": 0, "text_tokens": 0}, "output_tokens": 0,
                 "total_tokens": 0}  # fmt: skip
        return {"image_gen": image, "web_search": {"num_requests": self.grounded.searches_made if self.grounded else 0}}

    def response(self, done: bool) -> dict:
        body = self.req.body
        status = ("incomplete" if self.truncated else "completed") if done else "in_progress"
        reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
        payload = {
            "id": self.id, "object": "response", "created_at": self.created, "status": status, "background": False,
            "completed_at": self.created if done and not self.truncated else None, "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if done and self.truncated else None,
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"), "metadata": body.get("metadata") or {},
            "model": self.model, "output": self.output() if done else [], "parallel_tool_calls": True,
            "previous_response_id": None, "service_tier": "default", "store": body.get("store", True),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "temperature": body.get("temperature", 1.0), "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0), "truncation": "disabled", "user": None,
            "usage": self.usage() if done and self.send_usage else None,
        }  # fmt: skip
        if self.grounded is not None and done:
            payload["tool_usage"] = self.tool_usage()
        return payload

    def message(self) -> dict:
        return self.response(True)

    # ------------------------------------------------------------------ the stream

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, **fields, "sequence_number": self.seq}
        self.seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + json_bytes(data) + b"\n\n"

    def _item(self, kind: str, index: int, item: dict) -> bytes:
        return self._event(f"response.output_item.{kind}", output_index=index, item=item)

    def reasoning_events(self) -> list[bytes]:
        where = {"item_id": self.reasoning_item(False)["id"], "output_index": 0}
        events = [self._item("added", 0, self.reasoning_item(False))]
        if self.summary:
            part = {"type": "summary_text", "text": self.summary}
            events += [
                self._event("response.reasoning_summary_part.added", **where, summary_index=0,
                            part={**part, "text": ""}),  # fmt: skip
                self._event("response.reasoning_summary_text.delta", **where, summary_index=0, delta=self.summary),
                self._event("response.reasoning_summary_text.done", **where, summary_index=0, text=self.summary),
                self._event("response.reasoning_summary_part.done", **where, summary_index=0, part=part),
            ]
        return events + [self._item("done", 0, self.reasoning_item(True))]

    def search_events(self, s: int, search: Search) -> list[bytes]:
        index = int(self.reasoning) + s
        where = {"item_id": self.search_item(s, search, False)["id"], "output_index": index}
        phases = ("in_progress", "searching") if search.error else ("in_progress", "searching", "completed")
        return [
            self._item("added", index, self.search_item(s, search, False)),
            *(self._event(f"response.web_search_call.{phase}", **where) for phase in phases),
            self._item("done", index, self.search_item(s, search, True)),
        ]

    @property
    def _where(self) -> dict:
        return {"item_id": f"msg_loopback{self.req.index:08x}", "output_index": self.message_index, "content_index": 0}

    def preamble(self) -> list[bytes]:
        events = [self._event("response.created", response=self.response(False)),
                  self._event("response.in_progress", response=self.response(False))]  # fmt: skip
        if self.reasoning:
            events += self.reasoning_events()
        for s, search in enumerate(self.searches):
            events += self.search_events(s, search)
        return events + [
            self._item("added", self.message_index, self.message_item(False)),
            self._event("response.content_part.added", **self._where, part=self.text_part(False)),
        ]

    def word(self, i: int) -> bytes:
        out = self._event("response.output_text.delta", **self._where, delta=self.words[i], logprobs=[])
        if i in self.notes:
            index = sum(1 for j in self.notes if j < i)
            out += self._event("response.output_text.annotation.added", **self._where, annotation_index=index,
                               annotation=self.notes[i])  # fmt: skip
        return out

    def trailer(self) -> list[bytes]:
        ending = "response.incomplete" if self.truncated else "response.completed"
        return [
            self._event("response.output_text.done", **self._where, text="".join(self.words), logprobs=[]),
            self._event("response.content_part.done", **self._where, part=self.text_part(True)),
            self._item("done", self.message_index, self.message_item(True)),
            self._event(ending, response=self.response(True)),
        ]

    def malformed(self) -> bytes:
        return b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":\n\n'

    def error_event(self, error_type: str | None, message: str) -> bytes:
        return self._event("error", code=error_type or "server_error", message=message, param=None)
