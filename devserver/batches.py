"""Provider batches, kept in memory: OpenAI's Files and Batch API, Anthropic's Message Batches.

A batch moves on when a client retrieves it, one step per retrieval, and only as far as its processing delay
allows: OpenAI's goes validating → in_progress → finalizing → completed (or failed, expired, cancelling →
cancelled); Anthropic's in_progress → ended (or canceling → ended). Its lines are answered in input order, as
many as are due: all at once with a delay of 0, in proportion to the time elapsed with a delay in seconds, none
until `release()` with a delay of None (so a test can stop a client mid-batch and come back). Results come back
in a shuffled order (fixed by the batch id, never the input order), as both providers warn they may.

A line is answered like the same request made directly (the responder, the search faults); a fault whose `match`
accepts the line's Request (`custom_id`, `batch_id`) makes it fail (`status`) or closes the batch's window there
(`batch_expired`: that line and every line after it expire).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from .faults import Request
from .http11 import json_bytes
from .texts import last_user_text
from .wire import error_body

if TYPE_CHECKING:
    from .server import LoopbackServer

OPENAI_ENDPOINTS = ("/v1/chat/completions", "/v1/responses")
CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
WINDOW = 24 * 3600  # both providers give a batch 24 hours
LINE_INDEX_BASE = 1 << 28  # batch lines' Request.index: their own sequence, apart from HTTP requests'


class ApiError(Exception):
    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.error_type = status, message, error_type


@dataclass
class Reply:
    body: bytes
    content_type: str = "application/json"


@dataclass(frozen=True)
class Endpoint:
    api: str
    actions: dict  # HTTP method -> BatchStore method name
    params: dict


_ROUTES = [
    (re.compile(p), api, actions)
    for p, api, actions in (
        (r"/v1/files", "openai", {"POST": "upload"}),
        (r"/v1/files/(?P<id>[^/]+)", "openai", {"GET": "file"}),
        (r"/v1/files/(?P<id>[^/]+)/content", "openai", {"GET": "file_content"}),
        (r"/v1/batches", "openai", {"POST": "create_openai", "GET": "list_batches"}),
        (r"/v1/batches/(?P<id>[^/]+)", "openai", {"GET": "retrieve"}),
        (r"/v1/batches/(?P<id>[^/]+)/cancel", "openai", {"POST": "cancel"}),
        (r"/v1/messages/batches", "anthropic", {"POST": "create_anthropic", "GET": "list_batches"}),
        (r"/v1/messages/batches/(?P<id>[^/]+)", "anthropic", {"GET": "retrieve"}),
        (r"/v1/messages/batches/(?P<id>[^/]+)/results", "anthropic", {"GET": "results"}),
        (r"/v1/messages/batches/(?P<id>[^/]+)/cancel", "anthropic", {"POST": "cancel"}),
    )
]


def match_endpoint(path: str) -> Endpoint | None:
    for pattern, api, actions in _ROUTES:
        found = pattern.fullmatch(path)
        if found:
            return Endpoint(api, actions, found.groupdict())
    return None


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def shuffled(items: list, seed: str) -> list:
    """`items` in an order fixed by `seed` and, from two items up, never their own."""
    out = list(items)
    random.Random(seed).shuffle(out)
    return out[::-1] if len(out) > 1 and out == items else out


def jsonl(rows: list[dict]) -> bytes:
    return b"".join(json_bytes(row) + b"\n" for row in rows)


def form_fields(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """A multipart/form-data body: field name -> (file name, bytes)."""
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise ApiError(400, "Expected a multipart/form-data body")
    fields = {}
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def as_json(self) -> dict:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed",
                "expires_at": None, "status_details": None}  # fmt: skip


@dataclass
class Line:
    custom_id: str
    body: dict
    outcome: str = "pending"  # succeeded | errored | expired | canceled
    answer: dict | None = None  # the response body (succeeded) or the error object (errored)
    status_code: int = 200
    request_id: str = ""


@dataclass
class Batch:
    id: str
    api: str
    endpoint: str
    delay: float | None
    status: str
    lines: list[Line] = field(default_factory=list)
    input_file_id: str = ""
    metadata: dict | None = None
    created_at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    stamps: dict[str, float] = field(default_factory=dict)  # e.g. "in_progress_at" -> time.time()
    errors: list[dict] = field(default_factory=list)  # why validation failed (OpenAI)
    output_file_id: str | None = None
    error_file_id: str | None = None
    released: bool = False

    def due(self) -> int:
        """How many lines should be answered by now."""
        total = len(self.lines)
        if self.released or self.delay is not None and self.delay <= 0:
            return total
        if self.delay is None:
            return 0
        return min(total, int(total * (time.monotonic() - self.started) / self.delay))

    def count(self, *outcomes: str) -> int:
        return sum(1 for line in self.lines if line.outcome in outcomes)

    def stamp(self, name: str) -> None:
        self.stamps.setdefault(name, time.time())

    def openai_json(self) -> dict:
        stamps = {k: int(self.stamps[k]) if k in self.stamps else None for k in (
            "in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at", "cancelling_at",
            "cancelled_at")}  # fmt: skip
        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint, "model": None,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id, "completion_window": "24h", "status": self.status,
            "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
            "created_at": int(self.created_at), "expires_at": int(self.created_at + WINDOW), **stamps,
            "request_counts": {"total": len(self.lines), "completed": self.count("succeeded"),
                               "failed": self.count("errored", "expired", "canceled")},
            "metadata": self.metadata,
        }  # fmt: skip

    def anthropic_json(self, base_url: str) -> dict:
        ended = self.status == "ended"
        return {
            "id": self.id, "type": "message_batch", "processing_status": self.status,
            "request_counts": {"processing": self.count("pending"), "succeeded": self.count("succeeded"),
                               "errored": self.count("errored"), "canceled": self.count("canceled"),
                               "expired": self.count("expired")},
            "ended_at": iso(self.stamps.get("ended_at")), "created_at": iso(self.created_at),
            "expires_at": iso(self.created_at + WINDOW), "archived_at": None,
            "cancel_initiated_at": iso(self.stamps.get("cancel_initiated_at")),
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }  # fmt: skip


class BatchStore:
    """The files and batches one LoopbackServer holds; `created` counts the batches ever created."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, Batch] = {}
        self.created = 0
        self.lines: list[Request] = []  # every batch line answered, in the order answered

    def release(self, batch_id: str | None = None) -> None:
        """Let a batch (every batch if None) finish, whatever its delay."""
        for batch in self.batches.values():
            if batch_id in (None, batch.id):
                batch.released = True

    async def handle(self, endpoint: Endpoint, method: str, req: Request, raw: bytes) -> Reply:
        action: Callable[..., Any] = getattr(self, endpoint.actions[method])
        result = await action(req, raw, **endpoint.params)
        return result if isinstance(result, Reply) else Reply(json_bytes(result))

    def _batch(self, api: str, batch_id: str) -> Batch:
        batch = self.batches.get(batch_id)
        if batch is None or batch.api != api:
            raise ApiError(404, f"No such batch: {batch_id}")
        return batch

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}loopback{len(self.files) + len(self.batches):08x}"

    def _add_file(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        stored = StoredFile(self._new_id("file-"), filename, purpose, data, int(time.time()))
        self.files[stored.id] = stored
        return stored

    def _add_batch(self, batch: Batch) -> Batch:
        self.batches[batch.id] = batch
        self.created += 1
        return batch

    def _json(self, batch: Batch) -> dict:
        return batch.openai_json() if batch.api == "openai" else batch.anthropic_json(self.server.base_url)

    # ------------------------------------------------------------------ OpenAI Files

    async def upload(self, req: Request, raw: bytes) -> dict:
        fields = form_fields(req.headers.get("content-type", ""), raw)
        if "file" not in fields:
            raise ApiError(400, "Missing required parameter: 'file'.")
        purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
        if not purpose:
            raise ApiError(400, "Missing required parameter: 'purpose'.")
        filename, data = fields["file"]
        return self._add_file(filename or "upload", purpose, data).as_json()

    def _file(self, file_id: str) -> StoredFile:
        if file_id not in self.files:
            raise ApiError(404, f"No such File object: {file_id}")
        return self.files[file_id]

    async def file(self, req: Request, raw: bytes, id: str) -> dict:
        return self._file(id).as_json()

    async def file_content(self, req: Request, raw: bytes, id: str) -> Reply:
        return Reply(self._file(id).data, "application/octet-stream")

    # ------------------------------------------------------------------ creating and listing batches

    async def create_openai(self, req: Request, raw: bytes) -> dict:
        body = req.body
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or file_id not in self.files:
            raise ApiError(400, f"Invalid 'input_file_id': {file_id!r} is not an uploaded file.")
        if self.files[file_id].purpose != "batch":
            raise ApiError(400, f"File {file_id} was not uploaded with purpose 'batch'.")
        if body.get("endpoint") not in OPENAI_ENDPOINTS:
            supported = ", ".join(OPENAI_ENDPOINTS)
            raise ApiError(400, f"Invalid 'endpoint': {body.get('endpoint')!r}; supported: {supported}.")
        if body.get("completion_window") != "24h":
            raise ApiError(400, "Invalid 'completion_window': only '24h' is supported.")
        batch = Batch(self._new_id("batch_"), "openai", body["endpoint"], self.server.batch_delay, "validating",
                      input_file_id=file_id, metadata=body.get("metadata"))  # fmt: skip
        return self._add_batch(batch).openai_json()

    async def create_anthropic(self, req: Request, raw: bytes) -> dict:
        requests = req.body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise ApiError(400, "requests: expected a non-empty list")
        lines = []
        for i, item in enumerate(requests):
            cid = item.get("custom_id") if isinstance(item, dict) else None
            if not isinstance(cid, str) or not CUSTOM_ID.fullmatch(cid):
                raise ApiError(400, f"requests.{i}.custom_id: 1 to 64 letters, digits, '_' or '-'")
            if not isinstance(item.get("params"), dict):
                raise ApiError(400, f"requests.{i}.params: expected an object")
            lines.append(Line(cid, item["params"]))
        duplicate = _first_duplicate([line.custom_id for line in lines])
        if duplicate is not None:
            raise ApiError(400, f"Duplicate custom_id {duplicate!r}: each request's custom_id must be unique")
        batch = Batch(self._new_id("msgbatch_"), "anthropic", "/v1/messages", self.server.batch_delay, "in_progress",
                      lines)  # fmt: skip
        return self._add_batch(batch).anthropic_json(self.server.base_url)

    async def list_batches(self, req: Request, raw: bytes) -> dict:
        mine = [self._json(b) for b in reversed(self.batches.values()) if b.api == req.api]
        page = {"data": mine, "has_more": False, "first_id": mine[0]["id"] if mine else None,
                "last_id": mine[-1]["id"] if mine else None}  # fmt: skip
        return {"object": "list", **page} if req.api == "openai" else page

    # ------------------------------------------------------------------ retrieving, cancelling, results

    async def retrieve(self, req: Request, raw: bytes, id: str) -> dict:
        batch = self._batch(req.api, id)
        await (self._advance_openai(batch) if batch.api == "openai" else self._advance_anthropic(batch))
        return self._json(batch)

    async def cancel(self, req: Request, raw: bytes, id: str) -> dict:
        batch = self._batch(req.api, id)
        if batch.status not in ("validating", "in_progress"):
            raise ApiError(409 if batch.api == "openai" else 400, f"Cannot cancel a batch with status {batch.status}.")
        if batch.status == "in_progress":
            await self._run_due(batch)  # what is done by now is kept
        batch.status = "cancelling" if batch.api == "openai" else "canceling"
        batch.stamp("cancelling_at" if batch.api == "openai" else "cancel_initiated_at")
        return self._json(batch)

    async def results(self, req: Request, raw: bytes, id: str) -> Reply:
        batch = self._batch("anthropic", id)
        if batch.status != "ended":
            raise ApiError(400, f"Batch {id} has not ended yet: its results are not available.")
        rows = [{"custom_id": line.custom_id, "result": _anthropic_result(line)} for line in batch.lines]
        return Reply(jsonl(shuffled(rows, batch.id)), "application/x-jsonl")

    # ------------------------------------------------------------------ processing

    async def _advance_openai(self, batch: Batch) -> None:
        if batch.status == "validating":
            self._validate(batch)
        elif batch.status == "in_progress":
            await self._run_due(batch)
            if batch.count("pending") == 0:
                batch.status = "finalizing"
                batch.stamp("finalizing_at")
        elif batch.status in ("finalizing", "cancelling"):
            self._finish_openai(batch)

    async def _advance_anthropic(self, batch: Batch) -> None:
        if batch.status == "in_progress":
            await self._run_due(batch)
        if batch.status == "canceling" or batch.count("pending") == 0:
            self._cancel_pending(batch)
            batch.status = "ended"
            batch.stamp("ended_at")

    def _validate(self, batch: Batch) -> None:
        lines, errors = _parse_input(self.files[batch.input_file_id].data, batch.endpoint)
        if errors:
            batch.errors, batch.status = errors, "failed"
            batch.stamp("failed_at")
            return
        batch.lines, batch.status, batch.started = lines, "in_progress", time.monotonic()
        batch.stamp("in_progress_at")

    async def _run_due(self, batch: Batch) -> None:
        for i in range(batch.due()):
            if batch.lines[i].outcome == "pending":
                await self._run_line(batch, i)

    async def _run_line(self, batch: Batch, i: int) -> None:
        line = batch.lines[i]
        req = Request(path=batch.endpoint, headers={}, body=line.body, api=batch.api,
                      index=LINE_INDEX_BASE + len(self.lines), prompt=last_user_text(line.body),
                      received_at=time.monotonic(), custom_id=line.custom_id, batch_id=batch.id)  # fmt: skip
        self.lines.append(req)
        line.request_id = f"req_{req.index:08x}"
        fault = self.server.take_fault(req)
        if fault is not None and fault.batch_expired:  # the window closes here
            for rest in batch.lines[i:]:
                rest.outcome = "expired"
        elif fault is not None and fault.status is not None:
            line.outcome, line.status_code = "errored", fault.status
            line.answer = error_body(batch.api, fault.status, fault.message, fault.error_type, line.request_id)
        else:
            line.outcome, line.answer = "succeeded", await self.server.answer_message(req, fault)
            if batch.api == "anthropic":
                line.answer["usage"]["service_tier"] = "batch"

    def _results_file(self, batch: Batch, kind: str, rows: list[dict]) -> str:
        return self._add_file(f"{batch.id}_{kind}.jsonl", "batch_output", jsonl(shuffled(rows, batch.id))).id

    def _cancel_pending(self, batch: Batch) -> None:
        for line in batch.lines:
            if line.outcome == "pending":
                line.outcome = "canceled"

    def _finish_openai(self, batch: Batch) -> None:
        self._cancel_pending(batch)
        rows = [(line.outcome, _openai_row(batch, i, line)) for i, line in enumerate(batch.lines)]
        ok = [row for outcome, row in rows if outcome == "succeeded"]
        bad = [row for outcome, row in rows if outcome != "succeeded"]
        if ok:
            batch.output_file_id = self._results_file(batch, "output", ok)
        if bad:
            batch.error_file_id = self._results_file(batch, "error", bad)
        if batch.status == "cancelling":
            batch.status = "cancelled"
        else:
            batch.status = "expired" if batch.count("expired") else "completed"
        batch.stamp(f"{batch.status}_at")


def _first_duplicate(ids: list[str]) -> str | None:
    seen: set[str] = set()
    for cid in ids:
        if cid in seen:
            return cid
        seen.add(cid)
    return None


def _parse_input(data: bytes, endpoint: str) -> tuple[list[Line], list[dict]]:
    """An OpenAI batch input file's lines, or the errors that fail the batch (each naming its line)."""
    lines: list[Line] = []
    errors: list[dict] = []

    def error(n: int, code: str, message: str, param: str | None = None) -> None:
        errors.append({"code": code, "message": message, "param": param, "line": n})

    for n, text in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except ValueError:
            error(n, "invalid_json_line", "This line is not parseable as valid JSON.")
            continue
        if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
            error(n, "missing_required_parameter", "Missing required parameter: 'custom_id'.", "custom_id")
        elif item.get("method") != "POST":
            error(n, "invalid_value", "The only supported method is 'POST'.", "method")
        elif item.get("url") != endpoint:
            error(n, "mismatched_endpoint", f"The url must be the batch's endpoint, {endpoint}.", "url")
        elif not isinstance(item.get("body"), dict):
            error(n, "missing_required_parameter", "Missing required parameter: 'body'.", "body")
        else:
            lines.append(Line(item["custom_id"], item["body"]))
    duplicate = _first_duplicate([line.custom_id for line in lines])
    if duplicate is not None:
        error(0, "duplicate_custom_id", f"The custom_id {duplicate!r} is used more than once.", "custom_id")
    if not lines and not errors:
        error(0, "empty_file", "The input file has no requests.")
    return lines, errors


_WHY_NOT_RUN = {
    "expired": ("batch_expired", "This request could not be executed before the completion window expired."),
    "canceled": ("batch_cancelled", "This request was not executed because the batch was cancelled."),
}


def _openai_row(batch: Batch, i: int, line: Line) -> dict:
    row: dict = {"id": f"batch_req_{batch.id[-8:]}{i:06x}", "custom_id": line.custom_id, "response": None,
                 "error": None}  # fmt: skip
    if line.outcome in _WHY_NOT_RUN:
        code, message = _WHY_NOT_RUN[line.outcome]
        row["error"] = {"code": code, "message": message}
    else:
        row["response"] = {"status_code": line.status_code, "request_id": line.request_id, "body": line.answer}
    return row


def _anthropic_result(line: Line) -> dict:
    if line.outcome == "succeeded":
        return {"type": "succeeded", "message": line.answer}
    if line.outcome == "errored":
        return {"type": "errored", "error": line.answer}
    return {"type": line.outcome}
