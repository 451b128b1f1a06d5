"""Anthropic's Messages format for an answer grounded in web searches (the `web_search_20250305` server tool).

Blocks, in order: per search a `server_tool_use` block (its query streamed as `input_json_delta`) and a
`web_search_tool_result` block (the results, or a `web_search_tool_result_error`), then the answer's text blocks:
a cited one starts with `"citations": []` and gets its `citations_delta` before its first `text_delta`. The
searches are the preamble: a stream fault's token count starts at the answer's first word.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .search import Citation, Grounded, Page, Part, Search, opaque
from .texts import prompt_words
from .wire import AnthropicFormat

if TYPE_CHECKING:
    from .faults import Request


def result_block(page: Page, where: tuple[int, int]) -> dict:
    return {"type": "web_search_result", "title": page.title, "url": page.url,
            "encrypted_content": opaque("content", page.url, *where), "page_age": page.page_age}  # fmt: skip


def citation_dict(cite: Citation, where: tuple[int, int]) -> dict:
    return {"type": "web_search_result_location", "cited_text": cite.cited_text, "url": cite.url,
            "title": cite.title, "encrypted_index": opaque("index", cite.url, *where)}  # fmt: skip


class AnthropicSearchFormat(AnthropicFormat):
    def __init__(self, req: Request, grounded: Grounded, truncated: bool) -> None:
        words = [w for part in grounded.parts for w in part.words]
        super().__init__(req, words, truncated)
        self.grounded = grounded
        self.text_base = 2 * len(grounded.searches)  # block index of the first text block
        self.part_of = [p for p, part in enumerate(grounded.parts) for _ in part.words]  # word index -> part

    def tool_id(self, s: int) -> str:
        return f"srvtoolu_loopback{self.req.index:08x}{s:04x}"

    def result_content(self, s: int, search: Search) -> Any:
        if search.error is not None:
            return {"type": "web_search_tool_result_error", "error_code": search.error}
        return [result_block(page, (s, j)) for j, page in enumerate(search.results)]

    def text_block(self, p: int, part: Part, text: str) -> dict:
        block: dict = {"type": "text", "text": text}
        if part.citation is not None:
            block["citations"] = [citation_dict(part.citation, (p, 0))] if text else []
        return block

    def usage(self) -> dict:
        return {
            "input_tokens": prompt_words(self.req.body) + self.grounded.result_words,
            "output_tokens": len(self.words),
            "server_tool_use": {"web_search_requests": self.grounded.searches_made, "web_fetch_requests": 0},
        }

    # ------------------------------------------------------------------ stream

    def _delta(self, index: int, delta: dict) -> bytes:
        return self._event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})

    def _start(self, index: int, block: dict) -> bytes:
        start = {"type": "content_block_start", "index": index, "content_block": block}
        return self._event("content_block_start", start)

    def _stop(self, index: int) -> bytes:
        return self._event("content_block_stop", {"type": "content_block_stop", "index": index})

    def search_events(self, s: int, search: Search) -> list[bytes]:
        tool, result = 2 * s, 2 * s + 1
        query = json.dumps({"query": search.query})
        head, tail = query[: len('{"query": ')], query[len('{"query": '):]
        use = {"type": "server_tool_use", "id": self.tool_id(s), "name": "web_search", "input": {}}
        done = {"type": "web_search_tool_result", "tool_use_id": self.tool_id(s),
                "content": self.result_content(s, search)}  # fmt: skip
        return [
            self._start(tool, use),
            *(self._delta(tool, {"type": "input_json_delta", "partial_json": piece}) for piece in ("", head, tail)),
            self._stop(tool),
            self._start(result, done),
            self._stop(result),
        ]

    def preamble(self) -> list[bytes]:
        message_start, _text_start, ping = super().preamble()
        events = [message_start, ping]
        for s, search in enumerate(self.grounded.searches):
            events += self.search_events(s, search)
        return events

    def word(self, i: int) -> bytes:
        p = self.part_of[i]
        index = self.text_base + p
        out = b""
        if i == 0 or self.part_of[i - 1] != p:  # the first word of its part: the part's block starts
            if p > 0:
                out += self._stop(index - 1)
            part = self.grounded.parts[p]
            out += self._start(index, self.text_block(p, part, ""))
            if part.citation is not None:
                out += self._delta(index, {"type": "citations_delta", "citation": citation_dict(part.citation, (p, 0))})
        return out + self._delta(index, {"type": "text_delta", "text": self.words[i]})

    def trailer(self) -> list[bytes]:
        events = [self._stop(self.text_base + len(self.grounded.parts) - 1)] if self.words else []
        delta = {"type": "message_delta", "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                 "usage": self.usage()}  # fmt: skip
        return events + [self._event("message_delta", delta), self._event("message_stop", {"type": "message_stop"})]

    # ------------------------------------------------------------------ whole message

    def content(self) -> list[dict]:
        blocks: list[dict] = []
        for s, search in enumerate(self.grounded.searches):
            blocks.append({"type": "server_tool_use", "id": self.tool_id(s), "name": "web_search",
                           "input": {"query": search.query}})  # fmt: skip
            blocks.append({"type": "web_search_tool_result", "tool_use_id": self.tool_id(s),
                           "content": self.result_content(s, search)})  # fmt: skip
        blocks += [self.text_block(p, part, "".join(part.words)) for p, part in enumerate(self.grounded.parts)]
        return blocks

    def message(self) -> dict:
        message = super().message()
        message.update(content=self.content(), usage={**message["usage"], **self.usage()})
        return message
