"""What a test asks of the loopback server: the requests it saw and the faults it injects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

@dataclass
class Request:
    """What the server saw: one per HTTP request (API calls, unknown paths and throttled calls alike)."""

    path: str  # without the query string
    headers: dict[str, str]  # lower-case keys
    body: dict  # parsed JSON, {} if there was no body
    api: str  # "openai" | "anthropic" ("unknown" for a path that is neither)
    index: int  # 0-based index of this request across the server's life
    prompt: str  # text of the last user message
    received_at: float  # time.monotonic() when the request head was read
    target: str = ""  # the absolute URL when the request came as to a forward proxy, else ""
    custom_id: str = ""  # a batch line: its custom_id (such a Request stands for a line, not an HTTP request)
    batch_id: str = ""  # a batch line: the batch it belongs to

@dataclass
class Fault:
    """A fault for one or more requests; see :meth:`LoopbackServer.add_fault`.

    Precedence: ``status``, then ``content_type``, then the stream faults. ``delay`` adds to any of them.
    "Tokens" are the streamed word chunks, counted after the preamble (OpenAI's role chunk; Anthropic's
    message_start, content_block_start and ping), which is always sent. On a non-streaming request,
    ``disconnect_after`` closes the connection without any response, ``stall_after`` never answers and
    ``malformed_after`` sends a truncated JSON body (the counts are ignored).

    The search faults shape a web-search answer (a request with a web search tool) and combine with the stream
    faults. A batch line takes only a fault whose ``match`` accepts it (say, on ``req.custom_id``): ``status``
    makes the line fail with that error, ``batch_expired`` makes it expire; the stream faults do not apply.
    """

    status: int | None = None  # reply with this status and a provider-shaped JSON error body
    message: str = "injected fault"
    error_type: str | None = None  # OpenAI error.type and error.code / Anthropic error.type
    retry_after: float | None = None  # `Retry-After` seconds (integer when whole)
    retry_after_ms: float | None = None  # `retry-after-ms`
    retry_after_date: bool = False  # send `Retry-After` as an HTTP date (retry_after or 1 s from now)
    disconnect_after: int | None = None  # stream N tokens, then drop the connection (no terminating chunk)
    stall_after: int | None = None  # stream N tokens, then send nothing until the client goes away
    malformed_after: int | None = None  # stream N tokens, one invalid-JSON SSE data line, then carry on
    error_event_after: int | None = None  # stream N tokens, then an error event (error_type, message) and end
    content_type: str | None = None  # reply 200 with this content type and a non-SSE body
    delay: float | None = None  # extra seconds before responding (on top of the server's latency)
    search_error: str | None = None  # every search fails with this error_code ("too_many_requests", "unavailable"...)
    empty_search: bool = False  # every search comes back with no results
    invented_citation: bool = False  # the first citation's cited_text is in no result (Anthropic only: OpenAI has none)
    foreign_citation: bool = False  # the answer's last part cites a URL that no search returned
    batch_expired: bool = False  # a batch line: the batch's window closes before it runs

Responder = Callable[[Request], "str | Awaitable[str]"]