"""`python -m fanout.devserver` as a real subprocess, for the tests of its command line."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def devserver_env() -> dict[str, str]:
    """The environment with this checkout importable."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def devserver_run(*flags: str) -> subprocess.CompletedProcess:
    """Run it to completion (for flags that make it exit: --help, bad input)."""
    return subprocess.run([sys.executable, "-m", "fanout.devserver", *flags], cwd=ROOT, env=devserver_env(),
                          capture_output=True, text=True, timeout=30)  # fmt: skip


@contextmanager
def devserver(*flags: str) -> Iterator[str]:
    """The server running with `flags`; yields the URL it prints, and kills it at the end (after 15 s at most)."""
    proc = subprocess.Popen([sys.executable, "-m", "fanout.devserver", *flags], cwd=ROOT, env=devserver_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    killer = threading.Timer(15, proc.kill)
    killer.start()
    try:
        yield proc.stdout.readline().strip()
    finally:
        killer.cancel()
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
