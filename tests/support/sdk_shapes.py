"""Checking what the loopback server sends against the official SDKs' own types, strictly.

The SDKs build their objects without validation (a missing field parses as None), so a test that only streams
through them cannot see a field the server forgot. `strict` validates raw JSON against the same type with
pydantic, so every required field must be there with the right type.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
from pydantic import TypeAdapter


def oai(server, timeout: float = 5.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key="x", max_retries=0, timeout=timeout)


def ant(server, timeout: float = 5.0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.base_url, api_key="x", max_retries=0, timeout=timeout)


def sse_events(text: str) -> list[tuple[str | None, dict]]:
    """(event name, parsed data) for each server-sent event with data."""
    events = []
    for block in text.split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data = line[len("data: "):]
        if data is not None and data != "[DONE]":
            events.append((name, json.loads(data)))
    return events


def strict(kind: Any, data: Any) -> Any:
    """`data` validated as the SDK type `kind` (raises pydantic.ValidationError naming what is missing)."""
    return TypeAdapter(kind).validate_python(data)


async def raw_exchange(server, path: str, body: dict, event_type: Any) -> tuple[list[tuple[str | None, dict]], dict]:
    """POST `body` to `path` streamed and not, over plain HTTP: every event must be named for its type and
    validate strictly as `event_type` (pings aside: the SDKs drop them); returns the events and the whole body."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        raw = await http.post(path, json={**body, "stream": True})
        whole = await http.post(path, json=body)
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = sse_events(raw.text)
    for name, data in events:
        assert name == data["type"]
        if name != "ping":
            strict(event_type, data)
    return events, whole.json()


def sent_as(kind: Any, body: dict) -> dict:
    """A request body fanout sent, validated as the SDK's own request parameters (`kind`, a TypedDict): its
    iterables are read out too, since pydantic checks them only as they are read."""

    def read_out(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: read_out(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, str, int, float, bool)) or value is None:
            return [read_out(v) for v in value] if isinstance(value, (list, tuple)) else value
        return [read_out(v) for v in value]  # a ValidatorIterator: validating as it is read

    adapter = TypeAdapter(kind)  # kept alive while its lazy iterators are read: they point into its schema
    return read_out(adapter.validate_python(json.loads(json.dumps(body))))
