"""Provider batches on the loopback server: OpenAI's Files and Batch API and Anthropic's Message Batches, driven
through the official SDKs, their objects validated strictly against the SDKs' types, with partial failures,
expiry, cancellation, a batch held until released, and a second client collecting a batch the first one left."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import openai
import pytest
from anthropic.types import Message
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
from openai.types import Batch, FileObject
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from sdk_shapes import ant, oai, strict

from fanout.devserver import Fault, LoopbackServer, Request
from fanout.devserver.batches import Batch as StoredBatch
from fanout.devserver.batches import Line

IDS = ["alpha", "beta", "gamma", "delta"]


def echo(req: Request) -> str:
    return f"Answer to {req.prompt}"


def chat_line(cid: str, url: str = "/v1/chat/completions") -> dict:
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": f"question {cid}"}]}
    if url == "/v1/responses":
        body = {"model": "gpt-test", "input": f"question {cid}"}
    return {"custom_id": cid, "method": "POST", "url": url, "body": body}


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def message_request(cid: str, **params) -> dict:
    return {"custom_id": cid, "params": {"model": "claude-test", "max_tokens": 100,
                                         "messages": [{"role": "user", "content": f"question {cid}"}], **params}}


async def openai_batch(client: openai.AsyncOpenAI, ids=IDS, url: str = "/v1/chat/completions") -> Batch:
    upload = await client.files.create(file=("batch.jsonl", jsonl([chat_line(c, url) for c in ids])), purpose="batch")
    return await client.batches.create(input_file_id=upload.id, endpoint=url, completion_window="24h")


async def poll_openai(client: openai.AsyncOpenAI, batch_id: str) -> tuple[Batch, list[str]]:
    """Retrieve until the batch is done; the statuses seen on the way."""
    seen = []
    for _ in range(10):
        batch = await client.batches.retrieve(batch_id)
        seen.append(batch.status)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return batch, seen
    raise AssertionError(f"batch {batch_id} never finished: {seen}")


async def file_lines(client: openai.AsyncOpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    content = await client.files.content(file_id)
    return [json.loads(line) for line in content.text.splitlines()]


async def anthropic_results(client: anthropic.AsyncAnthropic, batch_id: str) -> list:
    return [item async for item in await client.messages.batches.results(batch_id)]


# --------------------------------------------------------------------------------------------------
# OpenAI


async def test_openai_batch_through_sdk():
    async with LoopbackServer(responder=echo) as server, oai(server) as client:
        created = await openai_batch(client)
        assert (created.status, created.endpoint) == ("validating", "/v1/chat/completions")
        done, seen = await poll_openai(client, created.id)
        rows = await file_lines(client, done.output_file_id)
        output = await client.files.retrieve(done.output_file_id)
        direct = await client.chat.completions.create(model="gpt-test", messages=chat_line("beta")["body"]["messages"])
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            raw = (await http.get(f"/v1/batches/{created.id}")).json()
    assert seen == ["in_progress", "finalizing", "completed"]
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (4, 4, 0)
    assert done.error_file_id is None and done.completed_at >= done.created_at
    assert output.purpose == "batch_output" and output.filename == f"{created.id}_output.jsonl"
    assert sorted(r["custom_id"] for r in rows) == sorted(IDS)
    assert [r["custom_id"] for r in rows] != IDS  # results come in another order: match them by custom_id
    by_id = {r["custom_id"]: r for r in rows}
    for cid in IDS:
        row = by_id[cid]
        assert row["error"] is None and row["id"].startswith("batch_req_")
        assert row["response"]["status_code"] == 200 and row["response"]["request_id"]
        answer = strict(ChatCompletion, row["response"]["body"])
        assert answer.choices[0].message.content == f"Answer to question {cid}"
    beta = strict(ChatCompletion, by_id["beta"]["response"]["body"])
    assert beta.choices[0].message.content == direct.choices[0].message.content  # a line answers as a direct call
    strict(Batch, raw)
    assert server.batches.created == 1
    assert [r.custom_id for r in server.batches.lines] == IDS
    assert all(r.batch_id == created.id for r in server.batches.lines)


async def test_openai_files_validate_strictly(loopback):
    async with oai(loopback) as client:
        upload = await client.files.create(file=("in.jsonl", b'{"x": 1}\n'), purpose="batch")
        async with httpx.AsyncClient(base_url=loopback.base_url) as http:
            raw = (await http.get(f"/v1/files/{upload.id}")).json()
            content = await http.get(f"/v1/files/{upload.id}/content")
        with pytest.raises(openai.NotFoundError):
            await client.files.retrieve("file-nope")
    strict(FileObject, raw)
    assert (upload.purpose, upload.filename, upload.bytes, upload.status) == ("batch", "in.jsonl", 9, "processed")
    assert content.content == b'{"x": 1}\n'


async def test_openai_batch_of_responses(loopback):
    async with oai(loopback) as client:
        done, _ = await poll_openai(client, (await openai_batch(client, ["one", "two"], "/v1/responses")).id)
        rows = await file_lines(client, done.output_file_id)
    assert done.status == "completed" and len(rows) == 2
    for row in rows:
        assert strict(Response, row["response"]["body"]).status == "completed"


async def test_openai_partial_failures():
    async with LoopbackServer() as server, oai(server) as client:
        server.add_fault(Fault(status=400, message="Invalid model", error_type="invalid_request_error"),
                         match=lambda r: r.custom_id == "beta")  # fmt: skip
        server.add_fault(Fault(status=500, message="Server hiccup"), match=lambda r: r.custom_id == "delta")
        done, _ = await poll_openai(client, (await openai_batch(client)).id)
        ok = await file_lines(client, done.output_file_id)
        bad = await file_lines(client, done.error_file_id)
    assert done.status == "completed"
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 2)
    assert sorted(r["custom_id"] for r in ok) == ["alpha", "gamma"]
    failed = {r["custom_id"]: r["response"] for r in bad}
    assert failed["beta"]["status_code"] == 400 and failed["beta"]["body"]["error"]["message"] == "Invalid model"
    assert failed["delta"]["status_code"] == 500 and failed["delta"]["body"]["error"]["type"] == "server_error"
    assert all(r["error"] is None for r in bad)


async def test_openai_expiry_closes_the_window_at_a_line():
    async with LoopbackServer() as server, oai(server) as client:
        server.add_fault(Fault(batch_expired=True), match=lambda r: r.custom_id == "gamma")
        done, seen = await poll_openai(client, (await openai_batch(client)).id)
        ok = await file_lines(client, done.output_file_id)
        bad = await file_lines(client, done.error_file_id)
    assert seen[-1] == "expired" and done.expired_at is not None and done.completed_at is None
    assert sorted(r["custom_id"] for r in ok) == ["alpha", "beta"]
    assert {r["custom_id"]: (r["response"], r["error"]["code"]) for r in bad} == {
        "gamma": (None, "batch_expired"), "delta": (None, "batch_expired")}  # fmt: skip
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 2)


async def test_openai_cancel_while_held():
    async with LoopbackServer(batch_delay=None) as server, oai(server) as client:
        created = await openai_batch(client)
        running = await client.batches.retrieve(created.id)
        assert running.status == "in_progress" and running.request_counts.completed == 0
        assert (await client.batches.retrieve(created.id)).status == "in_progress"  # held: no line is due
        cancelling = await client.batches.cancel(created.id)
        done, seen = await poll_openai(client, created.id)
        bad = await file_lines(client, done.error_file_id)
        with pytest.raises(openai.ConflictError):
            await client.batches.cancel(created.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    assert seen == ["cancelled"] and done.cancelled_at is not None and done.output_file_id is None
    assert sorted((r["custom_id"], r["error"]["code"]) for r in bad) == sorted((c, "batch_cancelled") for c in IDS)
    assert server.batches.lines == []  # nothing ran


async def test_openai_batch_held_then_collected_by_another_client():
    async with LoopbackServer(batch_delay=None, responder=echo) as server:
        async with oai(server) as first:
            batch_id = (await openai_batch(first)).id
            for _ in range(3):
                assert (await first.batches.retrieve(batch_id)).status == "in_progress"
        server.batches.release()
        async with oai(server) as second:  # a resumed client: it knows the id and never creates another batch
            done, seen = await poll_openai(second, batch_id)
            rows = await file_lines(second, done.output_file_id)
    assert seen == ["finalizing", "completed"] and len(rows) == 4
    assert server.batches.created == 1
    assert sum(1 for r in server.requests if r.path == "/v1/batches") == 1


async def test_openai_invalid_input_fails_the_batch(loopback):
    rows = [chat_line("alpha"), {**chat_line("beta"), "url": "/v1/embeddings"}, chat_line("alpha")]
    async with oai(loopback) as client:
        upload = await client.files.create(file=("in.jsonl", jsonl(rows) + b"not json\n"), purpose="batch")
        created = await client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                              completion_window="24h")  # fmt: skip
        done, seen = await poll_openai(client, created.id)
    assert seen == ["failed"] and done.failed_at is not None
    assert [(e.code, e.line, e.param) for e in done.errors.data] == [
        ("mismatched_endpoint", 2, "url"), ("invalid_json_line", 4, None), ("duplicate_custom_id", 0, "custom_id")]


async def test_openai_bad_create_requests(loopback):
    async with oai(loopback) as client:
        other = await client.files.create(file=("x.jsonl", jsonl([chat_line("a")])), purpose="user_data")
        good = await client.files.create(file=("x.jsonl", jsonl([chat_line("a")])), purpose="batch")
        for kwargs, says in (
            ({"input_file_id": "file-nope", "endpoint": "/v1/chat/completions"}, "input_file_id"),
            ({"input_file_id": other.id, "endpoint": "/v1/chat/completions"}, "purpose 'batch'"),
            ({"input_file_id": good.id, "endpoint": "/v1/embeddings"}, "endpoint"),
        ):
            with pytest.raises(openai.BadRequestError, match=says):
                await client.batches.create(completion_window="24h", **kwargs)
        with pytest.raises(openai.NotFoundError):
            await client.batches.retrieve("batch_nope")
    assert loopback.batches.created == 0


async def test_status_faults_reach_batch_endpoints(loopback):
    async with oai(loopback) as client:
        created = await openai_batch(client)
        loopback.add_fault(Fault(status=503, message="busy"), match=lambda r: r.path.startswith("/v1/batches/"))
        with pytest.raises(openai.InternalServerError):
            await client.batches.retrieve(created.id)
        assert (await client.batches.retrieve(created.id)).status == "in_progress"
        listed = await client.batches.list()
    assert [b.id for b in listed.data] == [created.id]


def test_lines_fall_due_with_the_time_elapsed():
    lines = [Line(str(i), {}) for i in range(10)]
    assert StoredBatch("b", "openai", "/v1/chat/completions", 100.0, "in_progress", lines,
                       started=time.monotonic() - 50).due() == 5  # fmt: skip
    assert StoredBatch("b", "openai", "/v1/chat/completions", 0.0, "in_progress", lines).due() == 10
    held = StoredBatch("b", "openai", "/v1/chat/completions", None, "in_progress", lines, started=0.0)
    assert held.due() == 0
    held.released = True
    assert held.due() == 10


# --------------------------------------------------------------------------------------------------
# Anthropic


async def test_anthropic_batch_through_sdk():
    async with LoopbackServer(responder=echo) as server, ant(server) as client:
        created = await client.messages.batches.create(requests=[message_request(c) for c in IDS])
        done = await client.messages.batches.retrieve(created.id)
        results = await anthropic_results(client, created.id)
        direct = await client.messages.create(**message_request("beta")["params"])
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            raw_batch = (await http.get(f"/v1/messages/batches/{created.id}")).json()
            raw_results = (await http.get(f"/v1/messages/batches/{created.id}/results")).text
    assert created.processing_status == "in_progress" and created.request_counts.processing == 4
    assert created.results_url is None
    assert done.processing_status == "ended" and done.ended_at is not None
    assert done.results_url == f"{server.base_url}/v1/messages/batches/{created.id}/results"
    counts = done.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.canceled, counts.expired) == (0, 4, 0, 0, 0)
    assert sorted(r.custom_id for r in results) == sorted(IDS) and [r.custom_id for r in results] != IDS
    for item in results:
        assert item.result.type == "succeeded"
        assert item.result.message.content[0].text == f"Answer to question {item.custom_id}"
        assert item.result.message.usage.service_tier == "batch"
    beta = next(r for r in results if r.custom_id == "beta").result.message
    assert beta.content == direct.content
    strict(MessageBatch, raw_batch)
    for line in raw_results.splitlines():
        strict(MessageBatchIndividualResponse, json.loads(line))
    assert server.batches.created == 1


async def test_anthropic_errored_and_expired_lines():
    async with LoopbackServer() as server, ant(server) as client:
        server.add_fault(Fault(status=529, message="Overloaded"), match=lambda r: r.custom_id == "alpha")
        server.add_fault(Fault(batch_expired=True), match=lambda r: r.custom_id == "gamma")
        created = await client.messages.batches.create(requests=[message_request(c) for c in IDS])
        done = await client.messages.batches.retrieve(created.id)
        results = {r.custom_id: r.result for r in await anthropic_results(client, created.id)}
    counts = done.request_counts
    assert (counts.succeeded, counts.errored, counts.expired) == (1, 1, 2)
    assert results["alpha"].type == "errored"
    error = results["alpha"].error.error
    assert (error.type, error.message) == ("overloaded_error", "Overloaded")
    assert results["beta"].type == "succeeded"
    assert results["gamma"].type == results["delta"].type == "expired"


async def test_anthropic_cancel_while_held():
    async with LoopbackServer(batch_delay=None) as server, ant(server) as client:
        created = await client.messages.batches.create(requests=[message_request(c) for c in IDS])
        assert (await client.messages.batches.retrieve(created.id)).processing_status == "in_progress"
        canceling = await client.messages.batches.cancel(created.id)
        done = await client.messages.batches.retrieve(created.id)
        results = await anthropic_results(client, created.id)
        with pytest.raises(anthropic.BadRequestError):
            await client.messages.batches.cancel(created.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    assert done.processing_status == "ended" and done.request_counts.canceled == 4
    assert sorted((r.custom_id, r.result.type) for r in results) == sorted((c, "canceled") for c in IDS)


async def test_anthropic_held_batch_collected_by_another_client():
    async with LoopbackServer(batch_delay=None) as server:
        async with ant(server) as first:
            batch_id = (await first.messages.batches.create(requests=[message_request(c) for c in IDS])).id
            assert (await first.messages.batches.retrieve(batch_id)).request_counts.processing == 4
        server.batches.release(batch_id)
        async with ant(server) as second:
            listed = await second.messages.batches.list()
            done = await second.messages.batches.retrieve(batch_id)
            results = await anthropic_results(second, batch_id)
    assert [b.id for b in listed.data] == [batch_id] and listed.data[0].processing_status == "in_progress"
    assert done.processing_status == "ended" and len(results) == 4
    assert server.batches.created == 1


async def test_anthropic_batch_line_with_web_search(loopback):
    tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    loopback.add_fault(Fault(foreign_citation=True), match=lambda r: r.custom_id == "beta")
    async with ant(loopback) as client:
        created = await client.messages.batches.create(requests=[message_request(c, tools=[tool]) for c in IDS[:2]])
        await client.messages.batches.retrieve(created.id)
        results = {r.custom_id: r.result.message for r in await anthropic_results(client, created.id)}
    for cid, message in results.items():
        assert [b.type for b in message.content[:2]] == ["server_tool_use", "web_search_tool_result"]
        assert message.usage.server_tool_use.web_search_requests == 1
        strict(Message, message.model_dump())
    urls = {r.url for r in results["beta"].content[1].content}
    cites = [c.url for b in results["beta"].content if b.type == "text" for c in b.citations or []]
    assert cites[-1] not in urls and all(url in urls for url in cites[:-1])


async def test_anthropic_bad_requests(loopback):
    async with ant(loopback) as client:
        with pytest.raises(anthropic.BadRequestError, match="Duplicate custom_id 'alpha'"):
            await client.messages.batches.create(requests=[message_request("alpha"), message_request("alpha")])
        with pytest.raises(anthropic.BadRequestError, match="custom_id"):
            await client.messages.batches.create(requests=[message_request("no spaces allowed")])
        with pytest.raises(anthropic.NotFoundError):
            await client.messages.batches.retrieve("msgbatch_nope")
    loopback.batch_delay = None
    async with ant(loopback) as client:
        held = await client.messages.batches.create(requests=[message_request("alpha")])
    async with httpx.AsyncClient(base_url=loopback.base_url) as http:
        early = await http.get(f"/v1/messages/batches/{held.id}/results")
        wrong = await http.delete(f"/v1/messages/batches/{held.id}")
    assert early.status_code == 400 and early.json()["error"]["type"] == "invalid_request_error"
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
    assert loopback.batches.created == 1
