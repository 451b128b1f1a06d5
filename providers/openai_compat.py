"""OpenAI and every OpenAI-compatible server (llama.cpp server, vLLM, Ollama, OpenRouter) via `openai`."""

from __future__ import annotations

from typing import Any

import openai

from .base import GenerationRequest, StreamEnd
from .compat_sdks import with_remembered_urls
from .http_client import http_client
from fanout.providers.sdk import Fold, SDKProvider, count, malformed_error, parse, stream_error


_AsyncOpenAI = with_remembered_urls(openai.AsyncOpenAI)


class OpenAIProvider(SDKProvider):
    kind = "openai"
    path = "/chat/completions"
    sdk = openai

    def _client_for(self, api_key: str, base_url: str | None, timeout: float):
        return _AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout,
                            http_client=http_client(openai))

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is not None:
            body["response_format"] = response_format(request.json_schema)
        return body

    def _fold(self) -> Fold:
        return ChunkFold()


def response_format(schema: dict) -> dict:
    """Structured output: OpenAI (and llama.cpp's server, vLLM) constrain the answer to the schema. Strict only
    when the schema is written the way strict mode demands (every property required, no others)."""
    strict = _strict(schema)
    if strict:
        schema = _without(schema, _UNSTRICT)
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": strict}}


_UNSTRICT = frozenset({"maxLength", "minLength"})  # string lengths: refused by OpenAI's strict mode


def _without(schema: Any, keys: frozenset[str]) -> Any:
    if isinstance(schema, dict):
        return {k: _without(v, keys) for k, v in schema.items() if k not in keys}
    if isinstance(schema, list):
        return [_without(v, keys) for v in schema]
    return schema


def _strict(schema: dict) -> bool:
    if schema.get("type") == "object":
        props = schema.get("properties") or {}
        return (schema.get("additionalProperties") is False and set(schema.get("required") or ()) == set(props)
                and all(_strict(p) for p in props.values()))
    if schema.get("type") == "array":
        return _strict(schema.get("items") or {})
    return "type" in schema


class ChunkFold(Fold):
    """`chat.completion.chunk` events: a content delta, a finish reason, then (when asked) a usage chunk and
    `[DONE]`. A server that closes the stream without `[DONE]` is fine once a finish reason came."""

    __slots__ = ("model", "usage")

    def __init__(self) -> None:
        super().__init__()
        self.model = ""
        self.usage: dict | None = None

    def event(self, name: str, data: bytes) -> str | None:
        if data.startswith(b"[DONE]"):
            self.done = True
            return None
        chunk = parse(data)
        if chunk.get("error"):
            raise stream_error(chunk["error"])
        try:
            self.model = chunk.get("model") or self.model
            usage = chunk.get("usage")
            if usage:
                self.usage = usage
            text = None
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta")
                content = delta.get("content") if delta else None
                if content:
                    if content.__class__ is not str:
                        raise TypeError(f"content is {type(content).__name__}, not text")
                    text = content if text is None else text + content
                if choice.get("finish_reason"):
                    self.finish = str(choice["finish_reason"])
        except (AttributeError, TypeError) as err:  # a chunk of the wrong shape
            raise malformed_error(err) from None
        return text

    def end(self) -> StreamEnd:
        usage = self.usage or {}
        return StreamEnd(
            input_tokens=count(usage.get("prompt_tokens")),
            output_tokens=count(usage.get("completion_tokens")),
            finish_reason=self.finish,
            model=str(self.model),
        )
