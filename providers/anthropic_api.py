"""Anthropic's messages API via the `anthropic` SDK."""

from __future__ import annotations

import json
from typing import AsyncIterator

import anthropic
import httpx2

from .base import GenerationRequest, ProviderError, StreamEnd, StreamItem, TextDelta, classify_status
from fanout.providers.sdk import SDKProvider, connection_error, incomplete_error, malformed_error, timeout_error


class AnthropicProvider(SDKProvider):
    kind = "anthropic"

    def _client_for(self, api_key: str, base_url: str | None, timeout: float):
        return anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)

    async def _stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        kwargs: dict = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": [
                {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
            ],
            "stream": True,
        }
        if system:
            kwargs["system"] = system
        # This SDK's create() no longer takes sampling settings; the API still accepts them in the body.
        extra = {}
        if request.temperature is not None:
            extra["temperature"] = request.temperature
        if extra:
            kwargs["extra_body"] = extra
        input_tokens = output_tokens = None
        finish, model = "", ""
        got_text = False
        try:
            stream = await self._client.messages.create(**kwargs)
            try:
                async for event in stream:
                    if event.type == "message_start":
                        model = event.message.model
                        input_tokens = event.message.usage.input_tokens
                    elif event.type == "content_block_delta":
                        if getattr(event.delta, "type", "") == "text_delta" and event.delta.text:
                            got_text = True
                            yield TextDelta(event.delta.text)
                    elif event.type == "message_delta":
                        finish = event.delta.stop_reason or finish
                        output_tokens = event.usage.output_tokens
            finally:
                await stream.close()
        except anthropic.APIStatusError as err:
            raise _from_status(err) from None
        except anthropic.APITimeoutError:
            raise timeout_error(self.base_url) from None
        except anthropic.APIConnectionError as err:
            raise connection_error(self.base_url, err) from None
        except anthropic.APIError as err:  # an `error` event inside a 200 stream, e.g. overloaded_error
            raise ProviderError(f"stream error: {err.message}", retryable=True, kind="stream") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise malformed_error(err) from None
        # This SDK does not wrap transport failures that happen mid-stream.
        except httpx2.TimeoutException:
            raise timeout_error(self.base_url) from None
        except httpx2.TransportError as err:
            raise connection_error(self.base_url, err) from None
        if not finish:
            raise incomplete_error(self.base_url, got_text)
        yield StreamEnd(input_tokens, output_tokens, finish, model)


def _from_status(err: anthropic.APIStatusError) -> ProviderError:
    body = err.body if isinstance(err.body, dict) else {}
    inner = body.get("error", {}) if isinstance(body, dict) else {}
    message = err.message
    code = None
    if isinstance(inner, dict):
        message = inner.get("message") or message
        code = inner.get("type")
    return classify_status(err.status_code, str(message), err.response.headers, code)
