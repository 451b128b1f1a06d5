"""A loopback fake LLM server for tests and benchmarks.

It speaks the OpenAI chat-completions format (``POST /v1/chat/completions``) and the Anthropic
messages format (``POST /v1/messages``), streaming and non-streaming, closely enough that the real
``openai.AsyncOpenAI`` and ``anthropic.AsyncAnthropic`` clients work against it, and it can inject
faults (error statuses, Retry-After headers, dropped and stalled streams, malformed SSE lines,
wrong content types, delays, a concurrency-based rate limit).

Only the standard library is used: ``asyncio.start_server`` plus a small HTTP/1.1 parser with
keep-alive, ``Content-Length`` and chunked request bodies, and chunked streaming responses.

Run it in the foreground with ``python -m fanout.devserver``; it prints its URL on one line.
"""

from .__main__ import main, serve_until_signalled
from .faults import Fault, Request
from .plans import PlanResponder, asks_for_plan
from .server import LoopbackServer
from .storm import Storm
from .texts import default_text, split_words

__all__ = ["Fault", "LoopbackServer", "PlanResponder", "Request", "Storm", "asks_for_plan", "default_text", "main",
           "serve_until_signalled", "split_words"]
