"""What a screen asks of the app. Screens post these; they bubble up to `FanoutApp`, whose handlers do the work.

A screen therefore never calls the app's methods by name (and never needs to know the app's class): the app is
where runs start, sessions resume, replays open and comparisons are kept, because those outlive any one screen.
"""

from __future__ import annotations

from textual.message import Message

from fanout.wiring.launch import Prepared, RunOptions


class Launch(Message):
    """The form's options: check them, then run (a bad input is reported on the form)."""

    def __init__(self, options: RunOptions) -> None:
        super().__init__()
        self.options = options


class StartRun(Message):
    """Run this prepared run on a new run screen."""

    def __init__(self, prepared: Prepared) -> None:
        super().__init__()
        self.prepared = prepared


class ResumeSession(Message):
    """Go on with a session that did not finish well: only what did not finish runs."""

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id


class OpenReplay(Message):
    """Replay a recorded session, read-only (speed 1: as it ran, 0: at once)."""

    def __init__(self, session_id: str, speed: float = 1.0) -> None:
        super().__init__()
        self.session_id = session_id
        self.speed = speed


class OpenComparison(Message):
    """Show a comparison kept in the sessions again: its verdict, read back, no call made."""

    def __init__(self, comparison: str) -> None:
        super().__init__()
        self.comparison = comparison


class Compare(Message):
    """Run the recipe under every strategy and compare them."""

    def __init__(self, prepared: Prepared) -> None:
        super().__init__()
        self.prepared = prepared
