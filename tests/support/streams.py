"""Reading one provider stream to its end, for tests that call a provider directly."""

from __future__ import annotations

from fanout.providers.base import StreamEnd, TextDelta


async def collect(provider, request) -> tuple[str, StreamEnd]:
    """The whole text of one streamed answer and its closing StreamEnd; a stream that never closes is a defect."""
    text, end = [], None
    async for item in provider.stream(request):
        if isinstance(item, TextDelta):
            text.append(item.text)
        elif isinstance(item, StreamEnd):
            end = item
    assert end is not None, "the stream ended without a StreamEnd"
    return "".join(text), end
