"""What a run screen plays. All three end up as the same stream of events through `RunScreen.feed`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Union

from fanout.wiring.launch import Prepared
from fanout.strategies.events import Event


@dataclass
class LiveRun:
    prepared: Prepared


@dataclass
class Replay:
    events: list[Event]
    speed: float = 1.0  # 1 original pace, 10 faster, 0 at once

    @property
    def label(self) -> str:
        return "replay, instant" if self.speed <= 0 else f"replay {self.speed:g}×"


@dataclass
class Feed:
    """Events from elsewhere, as they come (the benchmark; a front end for another engine)."""

    events: AsyncIterator[Event]
    label: str = "feed"


Source = Union[LiveRun, Replay, Feed]
