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
# The `fanout` command as a real subprocess (tests/test_cli.py, tests/test_cache_sessions.py)
# --------------------------------------------------------------------------------------------------
# `fanout_cli`: a FanoutCLI with its own FANOUT_HOME (tmp_path / "home", not created: fanout makes it).
#   `.run(*args)` runs `python -m fanout ...` to completion (stdin /dev/null, output captured, umask 022
#   so permission checks are fanout's own doing); `.popen(*args)` starts one to signal; `.json(*args)`
#   runs, checks exit 0 and parses stdout; `.net(server)` are the flags pointing a run at a loopback
#   server. `.env` is os.environ without any *_API_KEY, FANOUT_CONFIG or proxy, plus FANOUT_HOME;
#   `.with_home(path)` is another FanoutCLI on a second FANOUT_HOME.

import json
import os
import subprocess
import sys
from pathlib import Path


class FanoutCLI:
    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        base = dict(os.environ if env is None else env)
        for key in list(base):
            if key.endswith("_API_KEY") or key == "FANOUT_CONFIG" or key.lower().endswith("_proxy"):
                del base[key]
        base["FANOUT_HOME"] = str(home)
        base["NO_PROXY"] = base["no_proxy"] = "127.0.0.1,localhost"
        base["PYTHONUNBUFFERED"] = "1"
        self.env = base

    @property
    def sessions_dir(self) -> Path:
        return self.home / "sessions"

    def with_home(self, home: Path) -> "FanoutCLI":
        return FanoutCLI(home, {k: v for k, v in self.env.items() if k != "FANOUT_HOME"})

    @staticmethod
    def net(server: "LoopbackServer") -> list[str]:
        return ["--base-url", f"{server.base_url}/v1", "--model", "m"]

    def _env(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {**self.env, **(extra or {})}

    def run(self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                [sys.executable, "-m", "fanout", *args],
                env=self._env(extra_env),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                preexec_fn=lambda: os.umask(0o022),
            )
        except subprocess.TimeoutExpired as err:  # say where it hung, not just that it did
            def text(v: object) -> str:
                return v.decode(errors="replace") if isinstance(v, bytes) else str(v or "")

            raise AssertionError(
                f"fanout {' '.join(args)} still running after {timeout} s\n"
                f"--- stderr:\n{text(err.stderr)[-4000:]}\n--- stdout:\n{text(err.stdout)[-2000:]}"
            ) from None

    def popen(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "fanout", *args],
            env=self._env(extra_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: os.umask(0o022),
        )

    def json(self, *args: str, **kw) -> dict:
        proc = self.run(*args, **kw)
        assert proc.returncode == 0, f"fanout {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return json.loads(proc.stdout)


@pytest.fixture
def fanout_cli(tmp_path: Path) -> FanoutCLI:
    return FanoutCLI(tmp_path / "home")


# ==================================================================================================
