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

from __future__ import annotations

import argparse
import asyncio
import email.utils
import hashlib
import http
import inspect
import json
import random
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

__all__ = ["Fault", "LoopbackServer", "Request", "default_text", "main", "split_words"]


# --------------------------------------------------------------------------------------------------
# Public data types


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


@dataclass
class Fault:
    """A fault for one or more requests; see :meth:`LoopbackServer.add_fault`.

    Precedence: ``status``, then ``content_type``, then the stream faults. ``delay`` adds to any of them.
    "Tokens" are the streamed word chunks, counted after the preamble (OpenAI's role chunk; Anthropic's
    message_start, content_block_start and ping), which is always sent. On a non-streaming request,
    ``disconnect_after`` closes the connection without any response, ``stall_after`` never answers and
    ``malformed_after`` sends a truncated JSON body (the counts are ignored).
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
    content_type: str | None = None  # reply 200 with this content type and a non-SSE body
    delay: float | None = None  # extra seconds before responding (on top of the server's latency)


Responder = Callable[[Request], "str | Awaitable[str]"]


# --------------------------------------------------------------------------------------------------
# Text helpers

_WORDS = (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
    "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
)  # fmt: skip
_WORD_RE = re.compile(r"\S+\s*")


def default_text(prompt: str, model: str = "", tokens: int = 12) -> str:
    """The default responder's text: ``tokens`` words derived from a hash of the model and prompt."""
    digest = hashlib.blake2b(f"{model}\x00{prompt}".encode("utf-8", "surrogatepass"), digest_size=16).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    return " ".join(f"{_WORDS[rng.randrange(len(_WORDS))]}-{rng.getrandbits(12):03x}" for _ in range(tokens))


def split_words(text: str) -> list[str]:
    """Split text into the streamed chunks: words with their trailing whitespace (``"".join`` gives back text)."""
    chunks = _WORD_RE.findall(text)
    lead = len(text) - len(text.lstrip())
    if lead:
        if chunks:
            chunks[0] = text[:lead] + chunks[0]
        else:
            chunks = [text]
    return chunks


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str) and part.get("type", "text") in ("text", "input_text")
        )
    return ""


def _last_user_text(body: dict) -> str:
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _content_text(message.get("content"))
    return ""


def _prompt_words(body: dict) -> int:
    n = len(_content_text(body.get("system")).split())
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                n += len(_content_text(message.get("content")).split())
    return n


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunked-encoding chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


_LAST_CHUNK = b"0\r\n\r\n"


def _reason(status: int) -> str:
    if status == 529:
        return "Site Overloaded"
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


_OPENAI_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_API_PATHS = {
    "/v1/chat/completions": "openai",
    "/chat/completions": "openai",
    "/v1/messages": "anthropic",
}

_MAX_BODY = 64 * 1024 * 1024


class _ClientGone(Exception):
    """The client closed the connection while we were answering."""


# --------------------------------------------------------------------------------------------------
# The server


class LoopbackServer:
    """A fake OpenAI/Anthropic streaming server on 127.0.0.1.

    The configuration attributes (``latency``, ``token_interval``, ``tokens``, ``responder``,
    ``max_concurrent``, ``retry_after``, ``usage``) are read per request, so a test may change them
    while the server runs.
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

    def _take_fault(self, req: Request) -> Fault | None:
        with self._faults_lock:
            if not self._faults:
                return None
            for i, entry in enumerate(self._faults):
                fault, remaining, match = entry
                if match is None or match(req):
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
        lines = [f"HTTP/1.1 {status} {_reason(status)}"]
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
        body = raw if raw is not None else _dumps(payload)
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
        api = _API_PATHS.get(path)
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
            prompt=_last_user_text(body),
            received_at=received_at,
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
            if method != "POST":
                await self._send_error(writer, req, 405, f"Method {method} not allowed", None, [("allow", "POST")], close)
                return keep_alive
            if bad_json:
                await self._send_error(writer, req, 400, "Request body is not a JSON object", None, [], close)
                return keep_alive

            limit = self.max_concurrent
            if limit is not None and self._active >= limit:
                self.throttled += 1
                await self._send_error(
                    writer, req, 429, "Rate limit exceeded: too many concurrent requests", None,
                    [("retry-after", _seconds(self.retry_after))], close,
                )  # fmt: skip
                return keep_alive

            self._active += 1
            try:
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
        if req.api == "anthropic":
            etype = error_type or _ANTHROPIC_ERRORS.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
            payload: dict = {"type": "error", "error": {"type": etype, "message": message}, "request_id": f"req_{req.index:08x}"}
            extra = extra + [("request-id", f"req_{req.index:08x}")]
        else:
            default_type, default_code = _OPENAI_ERRORS.get(status) or (
                ("server_error", None) if status >= 500 else ("invalid_request_error", None)
            )
            payload = {
                "error": {
                    "message": message,
                    "type": error_type or default_type,
                    "param": None,
                    "code": error_type or default_code,
                }
            }
            extra = extra + [("x-request-id", f"req_{req.index:08x}")]
        await self._send_simple(writer, status, payload, close=close, extra=extra)

    async def _serve_api(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: Request, close: bool
    ) -> bool:
        fault = self._take_fault(req)
        wait = self.latency + ((fault.delay or 0.0) if fault else 0.0)
        if wait > 0:
            await asyncio.sleep(wait)
        keep = not close

        if fault is not None and fault.status is not None:
            extra: list[tuple[str, str]] = []
            if fault.retry_after is not None or fault.retry_after_date:
                seconds = fault.retry_after if fault.retry_after is not None else 1.0
                if fault.retry_after_date:
                    value = email.utils.formatdate(time.time() + seconds, usegmt=True)
                else:
                    value = _seconds(seconds)
                extra.append(("retry-after", value))
            if fault.retry_after_ms is not None:
                extra.append(("retry-after-ms", _seconds(fault.retry_after_ms)))
            if fault.status == 429:
                self.throttled += 1
            await self._send_error(writer, req, fault.status, fault.message, fault.error_type, extra, close)
            return keep

        if fault is not None and fault.content_type is not None:
            ctype = fault.content_type
            if "html" in ctype:
                raw = (
                    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
                    f"<body><h1>Bad Gateway</h1><p>{fault.message}</p></body></html>\n"
                ).encode()
            elif "json" in ctype:
                raw = _dumps({"message": fault.message})
            else:
                raw = (fault.message + "\n").encode()
            await self._send_simple(writer, 200, None, close=close, content_type=ctype, raw=raw)
            return keep

        responder = self.responder
        if responder is None:
            text = default_text(req.prompt, str(req.body.get("model", "")), self.tokens)
        else:
            result = responder(req)
            text = await result if inspect.isawaitable(result) else result
        words = split_words(text)

        limit = req.body.get("max_completion_tokens") if req.api == "openai" else None
        if limit is None:
            limit = req.body.get("max_tokens")
        truncated = isinstance(limit, int) and not isinstance(limit, bool) and 0 <= limit < len(words)
        if truncated:
            words = words[:limit]

        fmt = _OpenAIFormat(self, req, words, truncated) if req.api == "openai" else _AnthropicFormat(req, words, truncated)

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
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fmt: "_Format", fault: Fault | None, close: bool
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
        cut = min(x for x in (disconnect, stall) if x is not None) if disconnect is not None or stall is not None else None
        interval = self.token_interval

        buf = bytearray(self._head(200, headers))
        for event in fmt.preamble():
            buf += _chunk(event)
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
                buf += _chunk(fmt.malformed())
            if i == n:
                break
            if interval > 0:
                await self._write(writer, bytes(buf))
                buf.clear()
                await asyncio.sleep(interval)
            buf += _chunk(fmt.word(i))
        for event in fmt.trailer():
            buf += _chunk(event)
        buf += _LAST_CHUNK
        await self._write(writer, bytes(buf))
        return not close


# --------------------------------------------------------------------------------------------------
# Wire formats


class _Format:
    words: list[str]
    id_header: tuple[str, str]

    def preamble(self) -> list[bytes]: ...
    def word(self, i: int) -> bytes: ...
    def trailer(self) -> list[bytes]: ...
    def malformed(self) -> bytes: ...
    def complete(self) -> bytes: ...


class _OpenAIFormat(_Format):
    def __init__(self, server: LoopbackServer, req: Request, words: list[str], truncated: bool) -> None:
        self.req = req
        self.words = words
        self.finish = "length" if truncated else "stop"
        self.id = f"chatcmpl-loopback{req.index:08x}"
        self.id_header = ("x-request-id", f"req_{req.index:08x}")
        self.model = str(req.body.get("model", "loopback"))
        self.created = int(time.time())
        opts = req.body.get("stream_options")
        self.include_usage = server.usage and isinstance(opts, dict) and bool(opts.get("include_usage"))
        self.send_usage = server.usage
        # Prefix shared by every chunk, so a token costs one small json.dumps of its text.
        self._prefix = (
            b'data: {"id":' + _dumps(self.id) + b',"object":"chat.completion.chunk","created":%d,"model":' % self.created
            + _dumps(self.model) + b',"choices":['
        )  # fmt: skip

    def _usage(self) -> dict:
        prompt = _prompt_words(self.req.body)
        return {"prompt_tokens": prompt, "completion_tokens": len(self.words), "total_tokens": prompt + len(self.words)}

    def _choice(self, delta: dict, finish: str | None) -> bytes:
        return (
            self._prefix
            + _dumps({"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish})
            + b"]}\n\n"
        )

    def preamble(self) -> list[bytes]:
        return [self._choice({"role": "assistant", "content": ""}, None)]

    def word(self, i: int) -> bytes:
        return self._prefix + b'{"index":0,"delta":{"content":' + _dumps(self.words[i]) + b'},"logprobs":null,"finish_reason":null}]}\n\n'

    def trailer(self) -> list[bytes]:
        events = [self._choice({}, self.finish)]
        if self.include_usage:
            events.append(self._prefix + b'],"usage":' + _dumps(self._usage()) + b"}\n\n")
        events.append(b"data: [DONE]\n\n")
        return events

    def malformed(self) -> bytes:
        return self._prefix + b'{"index":0,"delta":{"content":\n\n'

    def complete(self) -> bytes:
        payload: dict = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(self.words), "refusal": None},
                    "logprobs": None,
                    "finish_reason": self.finish,
                }
            ],
        }
        if self.send_usage:
            payload["usage"] = self._usage()
        return _dumps(payload)


class _AnthropicFormat(_Format):
    def __init__(self, req: Request, words: list[str], truncated: bool) -> None:
        self.req = req
        self.words = words
        self.stop_reason = "max_tokens" if truncated else "end_turn"
        self.id = f"msg_loopback{req.index:08x}"
        self.id_header = ("request-id", f"req_{req.index:08x}")
        self.model = str(req.body.get("model", "loopback"))

    @staticmethod
    def _event(name: str, data: Any) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + _dumps(data) + b"\n\n"

    def preamble(self) -> list[bytes]:
        message = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": _prompt_words(self.req.body), "output_tokens": 1},
        }
        return [
            self._event("message_start", {"type": "message_start", "message": message}),
            self._event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            self._event("ping", {"type": "ping"}),
        ]  # fmt: skip

    def word(self, i: int) -> bytes:
        return (
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
            + _dumps(self.words[i]) + b"}}\n\n"
        )  # fmt: skip

    def trailer(self) -> list[bytes]:
        return [
            self._event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            self._event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": len(self.words)},
                },
            ),
            self._event("message_stop", {"type": "message_stop"}),
        ]

    def malformed(self) -> bytes:
        # Named like a real delta so that SDKs parse (and fail on) it rather than skip an unnamed event.
        return b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\n\n'

    def complete(self) -> bytes:
        return _dumps(
            {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [{"type": "text", "text": "".join(self.words)}],
                "stop_reason": self.stop_reason,
                "stop_sequence": None,
                "usage": {"input_tokens": _prompt_words(self.req.body), "output_tokens": len(self.words)},
            }
        )


# --------------------------------------------------------------------------------------------------
# Command line


async def serve_until_signalled(server: "LoopbackServer") -> None:
    """Starts `server`, prints its URL on one line, serves until SIGINT or SIGTERM, then a one-line summary."""
    await server.start()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, done.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(done.set))
    print(server.base_url, flush=True)
    try:
        await done.wait()
    finally:
        await server.stop()
        print(
            f"served {len(server.requests)} requests on {server.connections} connections; "
            f"max in flight {server.max_in_flight}; throttled {server.throttled}",
            file=sys.stderr,
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fanout.devserver", description="Fake OpenAI/Anthropic server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before response headers")
    parser.add_argument("--token-interval", type=float, default=0.0, help="seconds between streamed chunks")
    parser.add_argument("--tokens", type=int, default=12, help="words per default response")
    parser.add_argument("--no-usage", action="store_true", help="never send an OpenAI usage chunk")
    parser.add_argument("--max-concurrent", type=int, default=None, help="answer 429 above this many in-flight requests")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on those 429s")
    args = parser.parse_args(argv)

    async def run() -> None:
        server = LoopbackServer(
            port=args.port,
            latency=args.latency,
            token_interval=args.token_interval,
            tokens=args.tokens,
            usage=not args.no_usage,
            max_concurrent=args.max_concurrent,
            retry_after=args.retry_after,
        )
        await serve_until_signalled(server)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
