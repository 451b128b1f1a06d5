"""OpenAI and every OpenAI-compatible server (llama.cpp server, vLLM, Ollama, OpenRouter) via `openai`."""

from __future__ import annotations

import json
from typing import AsyncIterator

import httpx2
import openai

from .base import GenerationRequest, ProviderError, StreamEnd, StreamItem, TextDelta, classify_status
from fanout.providers.sdk import SDKProvider, connection_error, incomplete_error, malformed_error, timeout_error


class OpenAIProvider(SDKProvider):
    kind = "openai"

    def _client_for(self, api_key: str, base_url: str | None, timeout: float):
        return openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)

    async def _stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        kwargs: dict = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.seed is not None:
            kwargs["seed"] = request.seed
        try:
            stream = await self._client.chat.completions.create(**kwargs)
            finish, model, usage = "", "", None
            got_text = False
            try:
                async for chunk in stream:
                    model = chunk.model or model
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        content = choice.delta.content if choice.delta else None
                        if content:
                            got_text = True
                            yield TextDelta(content)
                        if choice.finish_reason:
                            finish = choice.finish_reason
            finally:
                # Abandoned mid-stream (a stall, a cancel): free the connection now, not at garbage collection.
                await stream.close()
        except openai.APIStatusError as err:
            raise _from_status(err) from None
        except openai.APITimeoutError:
            raise timeout_error(self.base_url) from None
        except openai.APIConnectionError as err:
            raise connection_error(self.base_url, err) from None
        except openai.APIError as err:  # e.g. an error event inside a 200 stream
            raise ProviderError(f"stream error: {err.message}", retryable=True, kind="stream") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:  # the SDK lets a malformed SSE line through raw
            raise malformed_error(err) from None
        except httpx2.TransportError as err:
            raise connection_error(self.base_url, err) from None
        if not finish:
            raise incomplete_error(self.base_url, got_text)
        yield StreamEnd(
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
            finish_reason=finish,
            model=model,
        )


def _from_status(err: openai.APIStatusError) -> ProviderError:
    body = err.body if isinstance(err.body, dict) else {}
    inner = body.get("error", body) if isinstance(body, dict) else {}
    code = None
    message = err.message
    if isinstance(inner, dict):
        code = inner.get("code") or inner.get("type")
        message = inner.get("message") or message
    return classify_status(err.status_code, str(message), err.response.headers, code)
