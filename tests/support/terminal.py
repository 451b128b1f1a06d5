"""A real terminal for tests: a tmux server of the test's own, driven with send-keys and read with capture-pane."""

from __future__ import annotations

import subprocess
import time


class Tmux:
    def __init__(self, name: str) -> None:
        self.socket = name  # a server of our own: never the user's sessions
        self.name = name

    def __call__(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return out.stdout

    def capture(self) -> str:
        return self("capture-pane", "-p", "-t", self.name)

    def wait(self, predicate, what: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{screen}")
            time.sleep(0.1)
