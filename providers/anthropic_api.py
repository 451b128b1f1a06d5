"""Anthropic's messages API via the `anthropic` SDK."""

from __future__ import annotations

from typing import Any

import anthropic

from .base import GenerationRequest, StreamEnd
from .compat_sdks import with_remembered_urls
from .http_client import http_client
from fanout.providers.sdk import Fold, SDKProvider, count, malformed_error, parse, stream_error


_AsyncAnthropic = with_remembered_urls(anthropic.AsyncAnthropic)


class AnthropicProvider(SDKProvider):
    kind = "anthropic"
    path = "/v1/messages"
    sdk = anthropic

    def _client_for(self, api_key: str, base_url: str | None, timeout: float):
        return _AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout,
                               http_client=http_client(anthropic))

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": [
                {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
            ],
            "stream": True,
        }
        if system:
            body["system"] = system
        # This SDK's create() no longer takes sampling settings; the API still accepts them in the body.
        if request.temperature is not None:
            body["temperature"] = request.temperature
        return body

    def _fold(self) -> Fold:
        return MessageFold()


class MessageFold(Fold):
    """Messages API events: message_start (model, input tokens), text deltas, message_delta (stop reason, output
    tokens), message_stop; pings skipped; an `error` event (e.g. overloaded_error) fails the attempt."""

    __slots__ = ("model", "input_tokens", "output_tokens")

    def __init__(self) -> None:
        super().__init__()
        self.model = ""
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None

    def event(self, name: str, data: bytes) -> str | None:
        if name == "ping":
            return None
        if name == "error":
            try:
                body = parse(data)
            except Exception:  # noqa: BLE001 - a non-JSON error event is still an error, worded as sent
                raise stream_error(data.decode("utf-8", "replace").strip()) from None
            raise stream_error(body.get("error", body))
        event = parse(data)
        kind = name or event.get("type")
        try:
            if kind == "content_block_delta":
                delta = event["delta"]
                if delta.get("type") == "text_delta":
                    text = delta.get("text")
                    if text.__class__ is not str:
                        raise TypeError(f"text is {type(text).__name__}")
                    return text or None
            elif kind == "message_start":
                message = event["message"]
                self.model = str(message.get("model") or "")
                self.input_tokens = count((message.get("usage") or {}).get("input_tokens"))
            elif kind == "message_delta":
                self.finish = str(event["delta"].get("stop_reason") or self.finish)
                output_tokens = count((event.get("usage") or {}).get("output_tokens"))
                if output_tokens is not None:
                    self.output_tokens = output_tokens
            elif kind == "message_stop":
                self.done = True
            elif kind == "error":
                raise stream_error(event.get("error", event))
        except (AttributeError, TypeError, KeyError) as err:  # an event of the wrong shape
            raise malformed_error(err) from None
        return None

    def end(self) -> StreamEnd:
        return StreamEnd(self.input_tokens, self.output_tokens, self.finish, self.model)
