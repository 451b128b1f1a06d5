"""The two streaming wire formats the server speaks: OpenAI chat completions and Anthropic messages."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .http11 import json_bytes
from .texts import prompt_words

if TYPE_CHECKING:
    from .faults import Request
    from .server import LoopbackServer

OPENAI_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
ANTHROPIC_ERRORS = {
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

def error_body(api: str, status: int, message: str, error_type: str | None, request_id: str) -> dict:
    """The JSON error object each API answers a failed request with."""
    if api == "anthropic":
        fallback = "api_error" if status >= 500 else "invalid_request_error"
        etype = error_type or ANTHROPIC_ERRORS.get(status) or fallback
        return {"type": "error", "error": {"type": etype, "message": message}, "request_id": request_id}
    default_type, default_code = OPENAI_ERRORS.get(status) or (
        ("server_error", None) if status >= 500 else ("invalid_request_error", None)
    )
    etype, code = error_type or default_type, error_type or default_code
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


API_PATHS = {
    "/v1/chat/completions": "openai",
    "/chat/completions": "openai",
    "/v1/messages": "anthropic",
    "/v1/responses": "openai",
}

class WireFormat:
    words: list[str]
    id_header: tuple[str, str]

    def preamble(self) -> list[bytes]: ...
    def word(self, i: int) -> bytes: ...
    def trailer(self) -> list[bytes]: ...
    def malformed(self) -> bytes: ...
    def error_event(self, error_type: str | None, message: str) -> bytes: ...
    def message(self) -> dict: ...  # the non-streamed answer's JSON object

    def complete(self) -> bytes:
        return json_bytes(self.message())

class OpenAIFormat(WireFormat):
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
            b'data: {"id":' + json_bytes(self.id) + b',"object":"chat.completion.chunk","created":%d,"model":' % self.created
            + json_bytes(self.model) + b',"choices":['
        )  # fmt: skip

    def _usage(self) -> dict:
        prompt = prompt_words(self.req.body)
        return {"prompt_tokens": prompt, "completion_tokens": len(self.words), "total_tokens": prompt + len(self.words)}

    def _choice(self, delta: dict, finish: str | None) -> bytes:
        return (
            self._prefix
            + json_bytes({"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish})
            + b"]}\n\n"
        )

    def preamble(self) -> list[bytes]:
        return [self._choice({"role": "assistant", "content": ""}, None)]

    def word(self, i: int) -> bytes:
        return self._prefix + b'{"index":0,"delta":{"content":' + json_bytes(self.words[i]) + b'},"logprobs":null,"finish_reason":null}]}\n\n'

    def trailer(self) -> list[bytes]:
        events = [self._choice({}, self.finish)]
        if self.include_usage:
            events.append(self._prefix + b'],"usage":' + json_bytes(self._usage()) + b"}\n\n")
        events.append(b"data: [DONE]\n\n")
        return events

    def malformed(self) -> bytes:
        return self._prefix + b'{"index":0,"delta":{"content":\n\n'

    def error_event(self, error_type: str | None, message: str) -> bytes:
        etype = error_type or "server_error"
        return b"data: " + json_bytes({"error": {"message": message, "type": etype, "param": None, "code": etype}}) + b"\n\n"

    def message(self) -> dict:
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
        return payload

class AnthropicFormat(WireFormat):
    def __init__(self, req: Request, words: list[str], truncated: bool) -> None:
        self.req = req
        self.words = words
        self.stop_reason = "max_tokens" if truncated else "end_turn"
        self.id = f"msg_loopback{req.index:08x}"
        self.id_header = ("request-id", f"req_{req.index:08x}")
        self.model = str(req.body.get("model", "loopback"))

    @staticmethod
    def _event(name: str, data: Any) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + json_bytes(data) + b"\n\n"

    def preamble(self) -> list[bytes]:
        message = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_words(self.req.body), "output_tokens": 1},
        }
        return [
            self._event("message_start", {"type": "message_start", "message": message}),
            self._event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            self._event("ping", {"type": "ping"}),
        ]  # fmt: skip

    def word(self, i: int) -> bytes:
        return (
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
            + json_bytes(self.words[i]) + b"}}\n\n"
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

    def error_event(self, error_type: str | None, message: str) -> bytes:
        return self._event("error", {"type": "error", "error": {"type": error_type or "overloaded_error", "message": message}})

    def message(self) -> dict:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [{"type": "text", "text": "".join(self.words)}],
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_words(self.req.body), "output_tokens": len(self.words)},
        }

