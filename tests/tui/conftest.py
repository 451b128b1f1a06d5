"""Every TUI test runs against its own FANOUT_HOME, in UTC, with no API key in sight."""

from __future__ import annotations

import os
import time

import pytest


@pytest.fixture(autouse=True)
def fanout_home(tmp_path, monkeypatch):
    home = tmp_path / "fanout-home"
    home.mkdir()
    monkeypatch.setenv("FANOUT_HOME", str(home))
    monkeypatch.delenv("FANOUT_CONFIG", raising=False)
    for key in list(os.environ):
        if key.endswith("_API_KEY"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield home
    monkeypatch.undo()
    time.tzset()
