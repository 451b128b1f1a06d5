"""Provider batches: many requests sent as one, answered within hours at half price.

`batch_api(provider)` gives the provider's batch API (OpenAI's Files and Batch API, Anthropic's Message Batches),
or None for a provider without one. Each speaks through the provider's own SDK client and the same request body
the provider streams (less the streaming options), so a batched request is the very request a streamed call
would make. A request's `custom_id` is its branch id, escaped where the provider's alphabet requires it; results
come back in any order and are matched by it.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol, Sequence

import httpx2

from fanout.core.text import redact

from .base import GenerationRequest, ProviderError, StreamEnd
from .sdk import status_error, transport_error

WINDOW = 24 * 3600  # both providers finish a batch within 24 hours, or expire what is left


@dataclass(frozen=True)
class BatchState:
    """Where a batch stands, in the provider's words, with its request counts."""

    id: str
    status: str
    ended: bool
    total: int = 0
    succeeded: int = 0
    failed: int = 0  # errored, expired and cancelled requests together
    error: str = ""  # the whole batch failed (e.g. its input was refused): every request fails with this


@dataclass(frozen=True)
class LineResult:
    """One request's outcome: its text and usage, or the provider's reason it has none."""

    text: str = ""
    end: StreamEnd | None = None
    error: str = ""


class BatchLineFailed(ProviderError):
    """A batched request that failed, expired or was cancelled: the provider's reason, not worth retrying."""

    kind = "batch"
    retryable = False


class BatchAPI(Protocol):
    async def submit(self, lines: Sequence[tuple[str, GenerationRequest]]) -> BatchState: ...

    async def poll(self, batch_id: str) -> BatchState: ...

    async def results(self, batch_id: str, ids: Sequence[str]) -> dict[str, LineResult]: ...


_SAFE = re.compile(r"[A-Za-z0-9-]")
CUSTOM_ID_MAX = 64


def custom_id(branch_id: str) -> str:
    """A branch id in the alphabet both providers accept (letters, digits, '-', '_'; at most 64): every other
    character, '_' included, as '_' and its UTF-8 bytes in hex, so no two ids meet; a longer one as its hash."""
    escaped = "".join(c if _SAFE.fullmatch(c) else "".join(f"_{b:02x}" for b in c.encode()) for c in branch_id)
    if len(escaped) <= CUSTOM_ID_MAX:
        return escaped
    return "_h" + hashlib.sha256(branch_id.encode()).hexdigest()[:40]


@dataclass
class Matched:
    """The branch ids of a batch by their custom ids, to read its results with."""

    ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, branch_ids: Sequence[str]) -> "Matched":
        return cls({custom_id(b): b for b in branch_ids})


@asynccontextmanager
async def sdk_errors(provider: Any) -> AsyncIterator[None]:
    """The SDK's failures as the provider's own (status, connection), its key never quoted."""
    sdk = provider.sdk
    try:
        yield
    except sdk.APIStatusError as err:
        failure = status_error(err)
    except (httpx2.RequestError, sdk.APIConnectionError) as err:
        failure = transport_error(sdk, provider.base_url, err)
    else:
        return
    failure.message = redact(failure.message, [provider._key])
    raise failure from None


class SDKBatches:
    """What both batch APIs share: the provider's SDK client, and its request body less the streaming options."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.client = provider._client

    def body(self, request: GenerationRequest) -> dict:
        body = self.provider._body(request)
        for key in ("stream", "stream_options"):
            body.pop(key, None)
        return body


def batch_api(provider: Any) -> BatchAPI | None:
    if provider.kind == "openai":
        from .openai_batch import OpenAIBatches

        return OpenAIBatches(provider)
    if provider.kind == "anthropic":
        from .anthropic_batch import AnthropicBatches

        return AnthropicBatches(provider)
    return None
