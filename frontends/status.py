"""How a branch's (or the aggregate's) status is named and drawn: one vocabulary for every front end.

`Status` is what the fold (`state.py`) stores and what every front end shows. The fold keeps the seven a call
passes through; `CACHED`, `FLAGGED` and `SKIPPED` are ways of being done or failed that a front end shows apart (a
cache hit made no call; a flagged result is no answer of the model's own; a skipped branch never ran). `LOOK` is
the one table of glyph, word and colour: the printer, the panes, the compact list and the timeline read it, so a
status looks the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    # What the fold keeps, in the order a call passes through them.
    WAITING = "waiting"  # on its dependencies
    QUEUED = "queued"  # for a slot on its provider
    STREAMING = "streaming"
    RETRYING = "retrying"  # in backoff before another attempt
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # How a front end shows some of them apart.
    CACHED = "cached"  # done, served from the cache
    FLAGGED = "flagged"  # done, but no result of the model's own (an echo of its prompt, or empty)
    SKIPPED = "skipped"  # failed without running

    @property
    def over(self) -> bool:
        """Nothing more will happen to it (until a retry by hand)."""
        return self in _OVER

    @property
    def unsuccessful(self) -> bool:
        """It ended without an answer: failed, skipped or cancelled."""
        return self in _UNSUCCESSFUL


_OVER = frozenset({Status.DONE, Status.FAILED, Status.CANCELLED, Status.CACHED, Status.FLAGGED, Status.SKIPPED})
_UNSUCCESSFUL = frozenset({Status.FAILED, Status.CANCELLED, Status.SKIPPED})


@dataclass(frozen=True)
class Look:
    glyph: str
    word: str
    colour: str  # a Textual theme colour variable (usable as a border colour), without its "$"; "" for none


LOOK: dict[Status, Look] = {
    Status.WAITING: Look("·", "waiting", ""),
    Status.QUEUED: Look("…", "queued", ""),
    Status.STREAMING: Look("▸", "streaming", "accent"),
    Status.RETRYING: Look("↻", "retrying", "warning"),
    Status.DONE: Look("✓", "done", "success"),
    Status.CACHED: Look("✓", "cached", "success"),
    Status.FLAGGED: Look("⚑", "flagged", "warning"),
    Status.FAILED: Look("✗", "failed", "error"),
    Status.SKIPPED: Look("–", "skipped", "warning"),
    Status.CANCELLED: Look("⊘", "cancelled", "warning"),
}


def look(status: str) -> Look:
    return LOOK[Status(status)]
