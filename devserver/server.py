"""The loopback server: an asyncio HTTP/1.1 server with keep-alive that answers both APIs and injects faults."""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import json
import threading
import time
from typing import Any, Callable

from .anthropic_search import AnthropicSearchFormat
from .batches import ApiError, BatchStore, Endpoint, match_endpoint
from .faults import Fault, Request, Responder
from .http11 import LAST_CHUNK, http_chunk, json_bytes, reason_phrase, header_seconds
from .responses import ResponsesFormat
from .search import Corpus, SearchSettings, ground, web_search_tool
from .texts import last_user_text, default_text, split_words
from .wire import API_PATHS, AnthropicFormat, OpenAIFormat, WireFormat, error_body


_MAX_BODY = 64 * 1024 * 1024


class _ClientGone(Exception):
    """The client closed the connection while we were answering."""



class LoopbackServer:
    """A fake OpenAI/Anthropic streaming server on 127.0.0.1.

    The configuration attributes (``latency``, ``token_interval``, ``tokens``, ``responder``,
    ``max_concurrent``, ``retry_after``, ``usage``, ``search_pages``, ``searches``, ``search_results``,
    ``citations``, ``reasoning``, ``batch_delay``) are read per request (``batch_delay`` when a batch is
    created), so a test may change them while the server runs. ``batches`` holds the files and batches.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        token_interval: float = 0.0,
        tokens: int = 12,
        responder: Responder | None = None,
        max_concurrent: int | None = None,
        retry_after: float = 1.0,
        usage: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        search_pages: Corpus = None,
        searches: int = 1,
        search_results: int = 3,
        citations: int = 2,
        reasoning: bool = False,
        batch_delay: float | None = 0.0,
    ) -> None:
        self.latency = latency
        self.token_interval = token_interval
        self.tokens = tokens
        self.responder = responder
        self.max_concurrent = max_concurrent
        self.retry_after = retry_after
        self.usage = usage
        self.host = host
        self.port = port
        self.search_pages = search_pages  # pages (or a function of the query giving them); None: made up
        self.searches = searches  # searches the model makes per call with a web search tool
        self.search_results = search_results  # results per search, at most
        self.citations = citations  # pages an answer cites, at most
        self.reasoning = reasoning  # /v1/responses answers start with a reasoning item, asked for or not
        self.batch_delay = batch_delay  # seconds a batch takes; None: until batches.release()
        self.batches = BatchStore(self)

        self.requests: list[Request] = []
        self.max_in_flight = 0
        self.throttled = 0
        self.connections = 0  # TCP connections accepted (keep-alive keeps this low)

        self._in_flight = 0  # every request between head read and response end
        self._active = 0  # admitted (not throttled) requests, compared with max_concurrent
        self._next_index = 0
        self._faults: list[list[Any]] = []  # [fault, remaining, match]
        self._faults_lock = threading.Lock()
        self._server: asyncio.base_events.Server | None = None
        self._conn_tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._on_connection, self.host, self.port, limit=1024 * 1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = [t for t in self._conn_tasks if not t.done()]
        for task in tasks:
            task.cancel()
        for writer in list(self._writers):
            writer.transport.abort()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        try:
            await asyncio.wait_for(server.wait_closed(), 2.0)
        except (asyncio.TimeoutError, TimeoutError):
            pass

    async def __aenter__(self) -> "LoopbackServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self) -> "LoopbackServer":
        """Start the server on its own event loop in a daemon thread; returns self once it listens."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                errors.append(exc)
                ready.set()
                loop.close()
                return
            self._thread_loop = loop
            ready.set()
            try:
                loop.run_forever()
            finally:
                try:
                    loop.run_until_complete(self.stop())
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()

        self._thread = threading.Thread(target=run, name=f"LoopbackServer-{id(self):x}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("LoopbackServer thread did not start")
        if errors:
            self._thread = None
            raise errors[0]
        return self

    def stop_thread(self) -> None:
        thread, loop = self._thread, self._thread_loop
        if thread is None:
            return
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # loop closed in between
                pass
        thread.join(timeout=10)
        self._thread = None
        self._thread_loop = None

    # ---------------------------------------------------------------- faults

    def add_fault(self, fault: Fault, *, times: int = 1, match: Callable[[Request], bool] | None = None) -> None:
        """The next ``times`` requests that ``match`` (all API requests if None) get ``fault``.

        Faults are consulted in the order added; each request takes at most one fault.
        """
        if times <= 0:
            return
        with self._faults_lock:
            self._faults.append([fault, times, match])

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def take_fault(self, req: Request) -> Fault | None:
        """The fault `req` gets, if any (and one use of it). A batch line takes only a fault that matches it."""
        with self._faults_lock:
            if not self._faults:
                return None
            for i, entry in enumerate(self._faults):
                fault, remaining, match = entry
                takes = match(req) if match is not None else not req.custom_id  # unmatched: HTTP requests only
                if takes:
                    if remaining <= 1:
                        del self._faults[i]
                    else:
                        entry[1] = remaining - 1
                    return fault
        return None

    # ---------------------------------------------------------------- HTTP/1.1 plumbing

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if self._server is None:  # stopping
            writer.transport.abort()
            return
        self.connections += 1
        if task is not None:
            self._conn_tasks.add(task)
        self._writers.add(writer)
        graceful = False
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break  # client closed an idle connection
                except asyncio.LimitOverrunError:
                    await self._send_simple(writer, 431, {"error": {"message": "request head too large"}}, close=True)
                    graceful = True
                    break
                parsed = self._parse_head(head)
                if parsed is None:
                    await self._send_simple(writer, 400, {"error": {"message": "malformed request"}}, close=True)
                    graceful = True
                    break
                method, target, version, headers = parsed
                received_at = time.monotonic()
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                raw = await self._read_body(reader, headers)
                if raw is None:
                    await self._send_simple(writer, 400, {"error": {"message": "bad request body"}}, close=True)
                    graceful = True
                    break
                conn = headers.get("connection", "").lower()
                keep_alive = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
                keep = await self._serve(reader, writer, method, target, headers, raw, received_at, keep_alive)
                if not keep:
                    graceful = keep_alive is False
                    break
        except (_ClientGone, ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels these tasks. Ending normally keeps asyncio's StreamReaderProtocol
            # (Python 3.11) from logging the cancelled task's "exception" as an error.
            pass
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._conn_tasks.discard(task)
            if graceful and not writer.transport.is_closing():
                writer.close()  # flushes what is buffered, then closes
            else:
                writer.transport.abort()

    @staticmethod
    def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]] | None:
        try:
            text = head.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes anything
            return None
        lines = text.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                return None
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return parts[0].upper(), parts[1], parts[2], headers

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes | None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while True:
                size_line = await reader.readuntil(b"\r\n")
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                        pass
                    return bytes(body)
                if len(body) + size > _MAX_BODY:
                    return None
                body += await reader.readexactly(size)
                await reader.readexactly(2)
        length = headers.get("content-length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            return None
        if n < 0 or n > _MAX_BODY:
            return None
        return await reader.readexactly(n) if n else b""

    @staticmethod
    def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason_phrase(status)}"]
        lines += [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
        if writer.transport.is_closing():
            raise _ClientGone()
        writer.write(data)
        await writer.drain()

    async def _send_simple(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        *,
        close: bool = False,
        extra: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
        raw: bytes | None = None,
    ) -> None:
        body = raw if raw is not None else json_bytes(payload)
        headers = [("content-type", content_type), ("content-length", str(len(body)))]
        headers += extra or []
        if close:
            headers.append(("connection", "close"))
        await self._write(writer, self._head(status, headers) + body)

    @staticmethod
    async def _flush_and_abort(writer: asyncio.StreamWriter) -> None:
        """Send what is buffered, then drop the connection without finishing the response."""
        transport = writer.transport
        try:
            await writer.drain()
            deadline = time.monotonic() + 1.0
            while transport.get_write_buffer_size() and not transport.is_closing() and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
        except ConnectionError:
            pass
        transport.abort()

    @staticmethod
    async def _wait_client_gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Send nothing more; return once the client closes the connection (or the server stops)."""
        try:
            await writer.drain()
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass

    # ---------------------------------------------------------------- request handling

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        headers: dict[str, str],
        raw: bytes,
        received_at: float,
        keep_alive: bool,
    ) -> bool:
        """Answer one request; return True if the connection can take another one."""
        path = target.split("?", 1)[0]
        via_proxy = path.startswith(("http://", "https://"))
        if via_proxy:  # absolute-form, as a client sends it to a forward proxy: this server answers it itself
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        api = API_PATHS.get(path)
        endpoint = None if api else match_endpoint(path)  # a Files or Batches endpoint
        if endpoint is not None:
            api = endpoint.api
        body: Any = {}
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
            if not isinstance(body, dict):
                bad_json, body = True, {}
        req = Request(
            path=path,
            headers=headers,
            body=body,
            api=api or "unknown",
            index=self._next_index,
            prompt=last_user_text(body),
            received_at=received_at,
            target=target if via_proxy else "",
        )
        self._next_index += 1
        self.requests.append(req)

        self._in_flight += 1
        if self._in_flight > self.max_in_flight:
            self.max_in_flight = self._in_flight
        close = not keep_alive
        try:
            if api is None:
                await self._send_simple(
                    writer,
                    404,
                    {"error": {"message": f"Unknown path {path!r}", "type": "invalid_request_error", "code": "not_found"}},
                    close=close,
                )
                return keep_alive
            allowed = list(endpoint.actions) if endpoint else ["POST"]
            if method not in allowed:
                await self._send_error(writer, req, 405, f"Method {method} not allowed", None,
                                       [("allow", ", ".join(allowed))], close)  # fmt: skip
                return keep_alive
            if bad_json and not (endpoint and headers.get("content-type", "").startswith("multipart/form-data")):
                await self._send_error(writer, req, 400, "Request body is not a JSON object", None, [], close)
                return keep_alive

            limit = self.max_concurrent
            if limit is not None and self._active >= limit:
                self.throttled += 1
                await self._send_error(
                    writer, req, 429, "Rate limit exceeded: too many concurrent requests", None,
                    [("retry-after", header_seconds(self.retry_after))], close,
                )  # fmt: skip
                return keep_alive

            self._active += 1
            try:
                if endpoint is not None:
                    return await self._serve_store(writer, req, endpoint, method, raw, close)
                return await self._serve_api(reader, writer, req, close)
            finally:
                self._active -= 1
        finally:
            self._in_flight -= 1

    async def _send_error(
        self,
        writer: asyncio.StreamWriter,
        req: Request,
        status: int,
        message: str,
        error_type: str | None,
        extra: list[tuple[str, str]],
        close: bool,
    ) -> None:
        request_id = f"req_{req.index:08x}"
        payload = error_body(req.api, status, message, error_type, request_id)
        extra = extra + [("request-id" if req.api == "anthropic" else "x-request-id", request_id)]
        await self._send_simple(writer, status, payload, close=close, extra=extra)

    async def _fault_first(self, writer: asyncio.StreamWriter, req: Request, close: bool) -> tuple[Fault | None, bool]:
        """Take the request's fault and wait its delay; answer it here if the fault is a status or a content type.
        Returns the fault and whether the request is answered."""
        fault = self.take_fault(req)
        wait = self.latency + ((fault.delay or 0.0) if fault else 0.0)
        if wait > 0:
            await asyncio.sleep(wait)

        if fault is not None and fault.status is not None:
            extra: list[tuple[str, str]] = []
            if fault.retry_after is not None or fault.retry_after_date:
                seconds = fault.retry_after if fault.retry_after is not None else 1.0
                if fault.retry_after_date:
                    value = email.utils.formatdate(time.time() + seconds, usegmt=True)
                else:
                    value = header_seconds(seconds)
                extra.append(("retry-after", value))
            if fault.retry_after_ms is not None:
                extra.append(("retry-after-ms", header_seconds(fault.retry_after_ms)))
            if fault.status == 429:
                self.throttled += 1
            await self._send_error(writer, req, fault.status, fault.message, fault.error_type, extra, close)
            return fault, True

        if fault is not None and fault.content_type is not None:
            ctype = fault.content_type
            if "html" in ctype:
                raw = (
                    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
                    f"<body><h1>Bad Gateway</h1><p>{fault.message}</p></body></html>\n"
                ).encode()
            elif "json" in ctype:
                raw = json_bytes({"message": fault.message})
            else:
                raw = (fault.message + "\n").encode()
            await self._send_simple(writer, 200, None, close=close, content_type=ctype, raw=raw)
            return fault, True
        return fault, False

    async def _words(self, req: Request) -> tuple[list[str], bool]:
        """The answer's words (the responder's text, cut at the request's token limit) and whether it was cut."""
        responder = self.responder
        if responder is None:
            text = default_text(req.prompt, str(req.body.get("model", "")), self.tokens)
        else:
            result = responder(req)
            text = await result if inspect.isawaitable(result) else result
        words = split_words(text)

        keys = ("max_output_tokens",) if req.path.endswith("/responses") else (
            ("max_completion_tokens", "max_tokens") if req.api == "openai" else ("max_tokens",))  # fmt: skip
        limit = next((req.body[k] for k in keys if req.body.get(k) is not None), None)
        truncated = isinstance(limit, int) and not isinstance(limit, bool) and 0 <= limit < len(words)
        return (words[:limit] if truncated else words), truncated

    def wire_format(self, req: Request, words: list[str], truncated: bool, fault: Fault | None) -> WireFormat:
        """How the answer is written: chat completions, Responses, Anthropic messages (grounded in web searches
        when the request carries a web search tool)."""
        settings = SearchSettings(self.search_pages, self.searches, self.search_results, self.citations)
        searching = web_search_tool(req.body) is not None
        if req.path.endswith("/responses"):
            grounded = ground(req, words, settings, fault) if searching else None
            return ResponsesFormat(req, words, truncated, grounded, reasoning=self.reasoning, usage=self.usage)
        if req.api == "anthropic" and searching:
            return AnthropicSearchFormat(req, ground(req, words, settings, fault), truncated)
        if req.api == "anthropic":
            return AnthropicFormat(req, words, truncated)
        return OpenAIFormat(self, req, words, truncated)

    async def answer_message(self, req: Request, fault: Fault | None = None) -> dict:
        """The non-streamed answer to `req` as a JSON object (what a batch line's result carries)."""
        words, truncated = await self._words(req)
        return self.wire_format(req, words, truncated, fault).message()

    async def _serve_store(
        self, writer: asyncio.StreamWriter, req: Request, endpoint: Endpoint, method: str, raw: bytes, close: bool
    ) -> bool:
        """A Files or Batches endpoint: a status, content-type or delay fault applies, the stream faults do not."""
        _, answered = await self._fault_first(writer, req, close)
        if answered:
            return not close
        try:
            reply = await self.batches.handle(endpoint, method, req, raw)
        except ApiError as err:
            await self._send_error(writer, req, err.status, err.message, err.error_type, [], close)
            return not close
        header = ("request-id" if req.api == "anthropic" else "x-request-id", f"req_{req.index:08x}")
        await self._send_simple(writer, 200, None, close=close, raw=reply.body, content_type=reply.content_type,
                                extra=[header])  # fmt: skip
        return not close

    async def _serve_api(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: Request, close: bool
    ) -> bool:
        fault, answered = await self._fault_first(writer, req, close)
        keep = not close
        if answered:
            return keep
        words, truncated = await self._words(req)
        fmt = self.wire_format(req, words, truncated, fault)

        if not req.body.get("stream"):
            if fault is not None and fault.disconnect_after is not None:
                await self._flush_and_abort(writer)  # no response at all
                return False
            if fault is not None and fault.stall_after is not None:
                await self._wait_client_gone(reader, writer)
                return False
            if fault is not None and fault.malformed_after is not None:
                full = fmt.complete()
                body = full[: len(full) // 2]  # truncated: invalid JSON
            else:
                body = fmt.complete()
            await self._send_simple(writer, 200, None, close=close, raw=body, extra=[fmt.id_header])
            return keep

        return await self._stream(reader, writer, fmt, fault, close)

    async def _stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fmt: "WireFormat", fault: Fault | None, close: bool
    ) -> bool:
        headers = [
            ("content-type", "text/event-stream; charset=utf-8"),
            ("cache-control", "no-cache"),
            ("transfer-encoding", "chunked"),
            fmt.id_header,
        ]
        if close:
            headers.append(("connection", "close"))
        disconnect = fault.disconnect_after if fault else None
        stall = fault.stall_after if fault else None
        malformed = fault.malformed_after if fault else None
        error_at = fault.error_event_after if fault else None
        cut = min(x for x in (disconnect, stall) if x is not None) if disconnect is not None or stall is not None else None
        interval = self.token_interval

        buf = bytearray(self._head(200, headers))
        for event in fmt.preamble():
            buf += http_chunk(event)
        n = len(fmt.words)
        for i in range(n + 1):
            if cut is not None and i == cut:
                await self._write(writer, bytes(buf))
                if disconnect is not None and disconnect == cut:
                    await self._flush_and_abort(writer)
                else:
                    await self._wait_client_gone(reader, writer)
                return False
            if malformed is not None and i == malformed:
                buf += http_chunk(fmt.malformed())
            if error_at is not None and i == error_at:
                assert fault is not None
                buf += http_chunk(fmt.error_event(fault.error_type, fault.message)) + LAST_CHUNK
                await self._write(writer, bytes(buf))
                return not close
            if i == n:
                break
            if interval > 0:
                await self._write(writer, bytes(buf))
                buf.clear()
                await asyncio.sleep(interval)
            buf += http_chunk(fmt.word(i))
        for event in fmt.trailer():
            buf += http_chunk(event)
        buf += LAST_CHUNK
        await self._write(writer, bytes(buf))
        return not close

