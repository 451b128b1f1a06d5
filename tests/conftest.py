"""Shared pytest fixtures.

Each block below belongs to one area of the test suite; add new fixtures in their own block.
"""

from __future__ import annotations

import pytest
import pytest_asyncio


# ==================================================================================================
# Loopback fake LLM server (fanout.devserver)
# --------------------------------------------------------------------------------------------------
# `loopback`: a started LoopbackServer with default settings on the test's event loop; pass its
#   `base_url` to AsyncAnthropic and `base_url + "/v1"` to AsyncOpenAI. Settings such as `latency`,
#   `token_interval`, `tokens`, `responder`, `usage`, `max_concurrent` may be changed on it in a test.
# `loopback_thread`: the same, running on its own event loop in a daemon thread, for sync code and
#   for tests that launch subprocesses.

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fanout.devserver import LoopbackServer


@pytest_asyncio.fixture
async def loopback() -> AsyncIterator[LoopbackServer]:
    from fanout.devserver import LoopbackServer

    server = LoopbackServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def loopback_thread() -> Iterator[LoopbackServer]:
    from fanout.devserver import LoopbackServer

    server = LoopbackServer().start_in_thread()
    try:
        yield server
    finally:
        server.stop_thread()


# ==================================================================================================
