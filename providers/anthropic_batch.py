"""Anthropic's Message Batches through the `anthropic` SDK: one request per branch with its `custom_id`, the
results as JSON lines once the batch has ended."""

from __future__ import annotations

from typing import Any, Sequence

from .base import GenerationRequest, StreamEnd
from .batch import BatchState, LineResult, Matched, SDKBatches, custom_id
from .batch import sdk_errors


class AnthropicBatches(SDKBatches):
    def _request(self, branch_id: str, request: GenerationRequest) -> dict:
        return {"custom_id": custom_id(branch_id), "params": self.body(request)}

    async def submit(self, lines: Sequence[tuple[str, GenerationRequest]]) -> BatchState:
        async with sdk_errors(self.provider):
            batch = await self.client.messages.batches.create(requests=[self._request(b, r) for b, r in lines])
        return state(batch)

    async def poll(self, batch_id: str) -> BatchState:
        async with sdk_errors(self.provider):
            return state(await self.client.messages.batches.retrieve(batch_id))

    async def results(self, batch_id: str, ids: Sequence[str]) -> dict[str, LineResult]:
        matched = Matched.of(ids)
        out: dict[str, LineResult] = {}
        async with sdk_errors(self.provider):
            async for item in await self.client.messages.batches.results(batch_id):
                branch = matched.ids.get(item.custom_id)
                if branch is not None:
                    out[branch] = line_result(item.result)
        missing = LineResult(error="the batch ended without an answer to this request")
        return {b: out.get(b, missing) for b in ids}


def state(batch: Any) -> BatchState:
    c = batch.request_counts
    failed = c.errored + c.canceled + c.expired
    return BatchState(batch.id, batch.processing_status, batch.processing_status == "ended",
                      c.processing + c.succeeded + failed, c.succeeded, failed)


def line_result(result: Any) -> LineResult:
    if result.type == "succeeded":
        message = result.message
        text = "".join(block.text for block in message.content if block.type == "text")
        usage = message.usage
        return LineResult(text, StreamEnd(usage.input_tokens, usage.output_tokens, str(message.stop_reason or ""),
                                          message.model))
    if result.type == "errored":
        error = getattr(result.error, "error", None)
        kind = getattr(error, "type", "error")
        return LineResult(error=f"errored: {kind}: {getattr(error, 'message', '') or result.error}")
    return LineResult(error=f"{result.type}: the request was not run (the batch {result.type} before it)")
