"""OpenAI's Batch API through the `openai` SDK: the requests as a JSONL file uploaded with purpose "batch", one
batch over `/v1/chat/completions`, then its output and error files."""

from __future__ import annotations

import json
from typing import Any, Sequence

from .base import GenerationRequest, StreamEnd
from .batch import BatchState, LineResult, Matched, SDKBatches, custom_id
from .batch import sdk_errors
from .sdk import count

ENDPOINT = "/v1/chat/completions"
DONE = frozenset({"completed", "failed", "expired", "cancelled"})


class OpenAIBatches(SDKBatches):
    def _line(self, branch_id: str, request: GenerationRequest) -> dict:
        return {"custom_id": custom_id(branch_id), "method": "POST", "url": ENDPOINT, "body": self.body(request)}

    async def submit(self, lines: Sequence[tuple[str, GenerationRequest]]) -> BatchState:
        data = "".join(json.dumps(self._line(bid, r), ensure_ascii=False) + "\n" for bid, r in lines).encode()
        async with sdk_errors(self.provider):
            upload = await self.client.files.create(file=("fanout-batch.jsonl", data), purpose="batch")
            batch = await self.client.batches.create(input_file_id=upload.id, endpoint=ENDPOINT,
                                                     completion_window="24h", metadata={"made_by": "fanout"})
        return state(batch)

    async def poll(self, batch_id: str) -> BatchState:
        async with sdk_errors(self.provider):
            return state(await self.client.batches.retrieve(batch_id))

    async def results(self, batch_id: str, ids: Sequence[str]) -> dict[str, LineResult]:
        matched = Matched.of(ids)
        async with sdk_errors(self.provider):
            batch = await self.client.batches.retrieve(batch_id)
            rows = []
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    content = await self.client.files.content(file_id)
                    rows += [json.loads(line) for line in content.text.splitlines() if line.strip()]
        out = {}
        for row in rows:
            branch = matched.ids.get(row.get("custom_id", ""))
            if branch is not None:
                out[branch] = line_result(row)
        why = state(batch).error or f"the batch ended {batch.status} without an answer to this request"
        return {b: out.get(b, LineResult(error=why)) for b in ids}


def state(batch: Any) -> BatchState:
    counts = batch.request_counts
    errors = batch.errors.data if batch.errors and batch.errors.data else []
    error = "; ".join(f"line {e.line}: {e.message}" if e.line else str(e.message) for e in errors)
    return BatchState(batch.id, batch.status, batch.status in DONE, counts.total if counts else 0,
                      counts.completed if counts else 0, counts.failed if counts else 0,
                      f"the batch failed: {error}" if batch.status == "failed" else "")


def line_result(row: dict) -> LineResult:
    """An output or error file's line: the completion, or why there is none."""
    if row.get("error"):
        err = row["error"]
        return LineResult(error=f"{err.get('code', 'error')}: {err.get('message', '')}".strip())
    response = row.get("response") or {}
    body = response.get("body") or {}
    status = response.get("status_code", 0)
    if status != 200 or "choices" not in body:
        inner = body.get("error") or {}
        return LineResult(error=f"{status} {inner.get('type') or 'error'}: {inner.get('message') or body}")
    choice = body["choices"][0]
    usage = body.get("usage") or {}
    text = (choice.get("message") or {}).get("content") or ""
    return LineResult(text, StreamEnd(count(usage.get("prompt_tokens")), count(usage.get("completion_tokens")),
                                      str(choice.get("finish_reason") or ""), str(body.get("model") or "")))

