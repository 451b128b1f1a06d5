"""OpenAI's Responses API on the loopback server without search: plain text, a reasoning item, a cut answer and the
stream faults, through the official SDK and strictly against its types."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from sdk_shapes import oai, raw_exchange, strict

from fanout.devserver import Fault, LoopbackServer, Request, default_text, split_words

PROMPT = "Tell me a story"


async def stream_events(server: LoopbackServer, **kw) -> list:
    async with oai(server) as client:
        stream = await client.responses.create(model=kw.pop("model", "gpt-test"), input=kw.pop("input", PROMPT),
                                               stream=True, **kw)  # fmt: skip
        return [event async for event in stream]


async def test_plain_text_stream_through_sdk(loopback):
    events = await stream_events(loopback)
    kinds = [e.type for e in events]
    assert kinds[:5] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added", "response.output_text.delta"]  # fmt: skip
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]  # fmt: skip
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == default_text(PROMPT, "gpt-test") == events[-4].text
    final = events[-1].response
    assert final.status == "completed" and final.output_text == text
    assert [item.type for item in final.output] == ["message"]
    usage = final.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (4, 12, 16)
    assert final.tool_usage is None  # no hosted tool was offered
    (req,) = loopback.requests
    assert (req.api, req.path, req.prompt) == ("openai", "/v1/responses", PROMPT)


async def test_sdk_stream_helper_and_non_streaming_agree(loopback):
    messages = [{"role": "user", "content": [{"type": "input_text", "text": "first"}]},
                {"role": "assistant", "content": "ok"}, {"role": "user", "content": PROMPT}]  # fmt: skip
    async with oai(loopback) as client:
        async with client.responses.stream(model="gpt-test", input=messages, instructions="Be brief.") as stream:
            async for _ in stream:
                pass
            streamed = await stream.get_final_response()
        whole = await client.responses.create(model="gpt-test", input=messages, instructions="Be brief.")
    assert streamed.output_text == whole.output_text == default_text(PROMPT, "gpt-test")
    assert whole.usage.input_tokens == 2 + 1 + 1 + 4  # instructions and every turn
    assert whole.instructions == "Be brief." and whole.status == "completed"


async def test_max_output_tokens_makes_the_response_incomplete(loopback):
    events = await stream_events(loopback, max_output_tokens=3)
    final = events[-1]
    assert final.type == "response.incomplete"
    assert final.response.status == "incomplete" and final.response.incomplete_details.reason == "max_output_tokens"
    assert final.response.output_text.split() == default_text(PROMPT, "gpt-test").split()[:3]
    assert final.response.output[0].status == "incomplete"


async def test_a_reasoning_item_comes_first_and_is_not_text(loopback):
    loopback.reasoning = True
    events = await stream_events(loopback)
    first = events[2]
    assert first.type == "response.output_item.added" and first.item.type == "reasoning" and first.output_index == 0
    assert not any(e.type.startswith("response.reasoning_summary") for e in events)  # no summary asked for
    final = events[-1].response
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output_text == default_text(PROMPT, "gpt-test")
    assert final.usage.output_tokens_details.reasoning_tokens == 16
    assert final.usage.output_tokens == 12 + 16


async def test_asking_for_a_reasoning_summary_streams_it(loopback):
    events = await stream_events(loopback, reasoning={"effort": "low", "summary": "auto"})
    kinds = [e.type for e in events]
    assert kinds[2:8] == ["response.output_item.added", "response.reasoning_summary_part.added",
                          "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
                          "response.reasoning_summary_part.done", "response.output_item.done"]  # fmt: skip
    summary = events[7].item.summary
    assert [s.text for s in summary] == [events[4].delta]
    assert events[-1].response.reasoning.effort == "low"


async def test_raw_events_validate_strictly(loopback):
    loopback.reasoning = True
    body = {"model": "m", "input": PROMPT, "max_output_tokens": 5}
    events, whole = await raw_exchange(loopback, "/v1/responses", body, ResponseStreamEvent)
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    assert events[-1][0] == "response.incomplete"
    strict(Response, whole)


# --------------------------------------------------------------------------------------------------
# stream faults


async def test_disconnect_mid_answer(loopback):
    loopback.add_fault(Fault(disconnect_after=2))
    deltas = []
    async with oai(loopback) as client:
        stream = await client.responses.create(model="gpt-test", input=PROMPT, stream=True)
        with pytest.raises((openai.APIConnectionError, httpx2.RemoteProtocolError)):
            async for event in stream:
                if event.type == "response.output_text.delta":
                    deltas.append(event.delta)
    assert deltas == split_words(default_text(PROMPT, "gpt-test"))[:2]


async def test_error_event_mid_stream(loopback):
    loopback.add_fault(Fault(error_event_after=1, error_type="server_error", message="boom"))
    events = await stream_events(loopback)
    assert events[-1].type == "error" and (events[-1].code, events[-1].message) == ("server_error", "boom")
    assert sum(1 for e in events if e.type == "response.output_text.delta") == 1
    assert not any(e.type == "response.completed" for e in events)


async def test_malformed_line_raises_in_the_sdk(loopback):
    loopback.add_fault(Fault(malformed_after=1))
    with pytest.raises(json.JSONDecodeError):
        await stream_events(loopback)


async def test_status_fault_on_responses(loopback):
    loopback.add_fault(Fault(status=429, retry_after=2), match=lambda r: r.path == "/v1/responses")
    with pytest.raises(openai.RateLimitError) as caught:
        await stream_events(loopback)
    assert caught.value.response.headers["retry-after"] == "2"


def test_responses_prompt_is_the_last_user_input():
    from fanout.devserver.texts import last_user_text, prompt_words

    body = {"instructions": "Be brief.", "input": [{"role": "user", "content": "a b"},
                                                   {"role": "user", "content": [{"type": "input_text", "text": "c"}]}]}
    assert last_user_text(body) == "c" and prompt_words(body) == 2 + 2 + 1
    assert last_user_text({"input": "just this"}) == "just this"
    assert Request("/v1/responses", {}, body, "openai", 0, "c", 0.0).prompt == "c"
