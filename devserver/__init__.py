"""A loopback fake LLM server for tests and benchmarks.

It speaks the OpenAI chat-completions format (``POST /v1/chat/completions``), OpenAI's Responses API
(``POST /v1/responses``) and the Anthropic messages format (``POST /v1/messages``), streaming and
non-streaming, closely enough that the real ``openai.AsyncOpenAI`` and ``anthropic.AsyncAnthropic`` clients
work against it, and it can inject faults (error statuses, Retry-After headers, dropped and stalled streams,
malformed SSE lines, wrong content types, delays, a concurrency-based rate limit).

Web search (search.py, anthropic_search.py, responses.py). A request carrying a web search tool gets a grounded
answer: Anthropic's ``{"type": "web_search_20250305", "name": "web_search", "max_uses": N}`` streams
``server_tool_use`` / ``web_search_tool_result`` blocks and cited text blocks (``citations_delta`` with
``web_search_result_location``), usage ``server_tool_use.web_search_requests``; OpenAI's Responses
``{"type": "web_search"}`` streams ``web_search_call`` items (``action.sources`` when ``include`` asks for
``web_search_call.action.sources``) and ``url_citation`` annotations. The server is the search engine:
``LoopbackServer(search_pages=[Page(url, title, text), ...])`` (ranked by the query's words), a function of the
query, or (default) pages made up from the query; ``searches``, ``search_results`` and ``citations`` say how
many. Search faults: ``Fault(search_error=CODE)``, ``Fault(empty_search=True)``,
``Fault(invented_citation=True)``, ``Fault(foreign_citation=True)``; searches past Anthropic's ``max_uses``
fail with ``max_uses_exceeded``. ``reasoning=True`` makes every Responses answer start with a reasoning item.

Batches (batches.py), in memory on the server: OpenAI ``POST /v1/files``, ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``POST|GET /v1/batches``, ``GET /v1/batches/{id}``,
``POST /v1/batches/{id}/cancel``; Anthropic ``POST|GET /v1/messages/batches``,
``GET /v1/messages/batches/{id}``, ``GET /v1/messages/batches/{id}/results``,
``POST /v1/messages/batches/{id}/cancel``. A batch moves one step each time it is retrieved, as far as
``batch_delay`` allows (0: at once; seconds: lines fall due with time; None: held until
``server.batches.release()``). Lines are answered like direct calls; a fault matched to a line
(``match=lambda r: r.custom_id == "x"``) fails it (``status``) or expires it and the rest
(``batch_expired``). ``server.batches.created`` counts the batches created, ``server.batches.lines`` the lines
answered.

Only the standard library is used: ``asyncio.start_server`` plus a small HTTP/1.1 parser with
keep-alive, ``Content-Length`` and chunked request bodies, and chunked streaming responses.

Run it in the foreground with ``python -m fanout.devserver``; it prints its URL on one line
(``--search FILE``, ``--searches N``, ``--reasoning``, ``--batch-delay SECONDS``: see ``--help``).
"""

from .__main__ import main, serve_until_signalled
from .faults import Fault, Request
from .plans import COVERED, PlanResponder, asks_for_follow_up, asks_for_plan
from .search import Page, load_pages
from .server import LoopbackServer
from .storm import Storm
from .texts import default_text, split_words

__all__ = ["COVERED", "Fault", "LoopbackServer", "Page", "PlanResponder", "Request", "Storm", "asks_for_follow_up", "asks_for_plan", "default_text",
           "load_pages", "main", "serve_until_signalled", "split_words"]
