"""The headless front end: progress on stderr while the run goes, the report on stdout when it ends.

On a terminal the progress is a live block, one line per branch, redrawn at most ten times a second; otherwise
it is plain lines, one per change of state, so logs and pipes stay readable.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from typing import TextIO

from fanout.frontends.report import fmt_concurrency, fmt_latency, fmt_seconds
from fanout.frontends.sources_text import search_text
from fanout.core.text import shorten, strip_controls
from fanout.frontends.state import CANCELLED, DONE, FAILED, RETRYING, STREAMING, WAITING, BranchState, RunState
from fanout.frontends.status import Status, look
from fanout.strategies.events import (
    AggregateDone,
    AggregateStarted,
    BranchDone,
    BranchFailed,
    BranchQueued,
    BranchRetrying,
    BranchSearch,
    BranchSources,
    BranchStarted,
    Event,
    PlanDone,
    PlanStarted,
    RunDone,
    RunStarted,
    BranchAdded,
    BatchProgress,
    BatchSubmitted,
    WavesDone,
)
from fanout.strategies.recipe import planner_id


def describe(b: BranchState, now: float) -> str:
    if b.status == RETRYING:
        left = max(0.0, b.retry_at + b.retry_delay - now)
        return f"retrying in {left:.1f} s ({shorten(b.retry_reason, 60)})"
    if b.status == STREAMING:
        searching = next((q for q in reversed(b.searches) if q.status == "searching"), None)
        if searching is not None and not b.tokens_seen:
            return search_text(searching)
        return f"streaming · {b.tokens_seen} tokens"
    if b.status == DONE and b.metrics:
        return f"done · {fmt_latency(b.metrics)} · {b.metrics.output_tokens} tokens"
    if b.status in (FAILED, CANCELLED):
        # A cancel's error is the word itself: "cancelled", never "cancelled: cancelled".
        return b.status if b.error in ("", b.status) else f"{b.status}: {shorten(b.error, 80)}"
    return b.status


def heartbeat(state: RunState) -> str:
    """One line for a long quiet stretch off a terminal: how many calls are in each state, and the tokens so far."""
    lanes = state.lanes()
    counts = Counter(b.status for b in lanes)
    tokens = sum(b.tokens_seen for b in lanes if b.status == STREAMING)
    parts = [f"{counts[s]} {s}" + (f" ({tokens} tokens so far)" if s == STREAMING else "")
             for s in Status if counts[s]]
    if state.aggregate.status not in (WAITING, DONE):
        parts.append(f"aggregate {state.aggregate.status}")
    return "still running · " + " · ".join(parts)


def batch_counts(b: BatchProgress) -> str:
    if not b.total:  # not counted yet (OpenAI's validating)
        return b.status
    return f"{b.status} · {b.succeeded} of {b.total} answered" + (f" · {b.failed} failed" if b.failed else "")


class Printer:
    QUIET = 10.0  # off a terminal, at most this many seconds without a line (a pipe or a CI log must see life)

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.out = stream or sys.stderr
        self.live = self.out.isatty() if live is None else live
        self.state = RunState()
        self._drawn = 0
        self._last_draw = 0.0
        self._last_line = 0.0  # run time of the last plain line

    def handle(self, event: Event) -> None:
        branch = self.state.apply(event)
        if self.live:
            final = isinstance(event, RunDone)
            if final or time.monotonic() - self._last_draw >= 0.1:
                self._draw()
            return
        line = self._line(event, branch)
        if line:
            self._write(event.t, line)

    def _write(self, t: float, line: str) -> None:
        for part in strip_controls(line).split("\n"):
            self.out.write(f"[{t:7.2f}s] {part}\n")
        self.out.flush()
        self._last_line = t

    async def keep_fresh(self, every: float = 0.5) -> None:
        """Between events too: on a terminal the block is redrawn, so a backoff countdown keeps counting; off one,
        a quiet stretch of QUIET seconds gets a line saying what is still running."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            await asyncio.sleep(every)
            if self.state.done is not None or self.state.started is None:
                continue
            self.state.now = max(self.state.now, loop.time() - start)
            if self.live:
                self._draw()
            elif self.state.now - self._last_line >= self.QUIET:
                self._write(self.state.now, heartbeat(self.state))

    def _line(self, event: Event, b: BranchState | None) -> str | None:
        if isinstance(event, RunStarted):
            count = f"{len(event.branches)} branches" if event.branches else "branches to be planned"
            return f"run {event.session_id}: {event.recipe} · {event.strategy} · {event.provider}/{event.model} · {count}"
        if isinstance(event, PlanStarted):
            if event.wave > 1:
                return f"{planner_id(event.wave)}: planning wave {event.wave} from wave {event.wave - 1}'s findings"
            return "plan: " + ("the plan made once for every strategy" if event.reused else "planning the branches")
        if isinstance(event, PlanDone):
            lane = planner_id(event.wave)
            if event.error:
                return f"{lane} failed: {event.error}"
            wave = f"wave {event.wave}: " if event.wave > 1 else ""
            lines = [f"{lane}: {wave}{len(event.branches)} branches: {', '.join(b.id for b in event.branches)}"
                     if event.branches or event.wave == 1 else f"{lane}: no new angle"]
            return "\n".join(lines + [f"{lane} warning: {w}" for w in event.warnings])
        if isinstance(event, WavesDone):
            return f"waves: stopped after wave {event.waves}: {event.reason}"
        if isinstance(event, BatchSubmitted):
            return (f"batch {event.batch} ({event.provider}/{event.model}): {len(event.branch_ids)} requests "
                    "submitted, answers within 24 hours at the batch price")
        if isinstance(event, BatchProgress):
            return f"batch {event.batch}: {batch_counts(event)}"
        if isinstance(event, AggregateStarted):
            return f"aggregate ({event.method}) started"
        if isinstance(event, AggregateDone):
            return f"aggregate {'failed: ' + event.error if event.error else 'done'}"
        if isinstance(event, RunDone):
            m = event.metrics
            cached = f" · {m.cached} cached" if m.cached else ""
            error = f" · {event.error}" if event.error else ""
            return f"run {event.status} · wall {fmt_seconds(m.wall)} · concurrency {fmt_concurrency(m)}{cached}{error}"
        if b is None:
            return None
        if isinstance(event, BranchAdded):
            return f"{b.id}: {b.title}"
        if isinstance(event, BranchSearch):
            done = [q for q in b.searches if q.status != "searching"]
            return f"{b.id}: {search_text(done[-1] if event.status != 'searching' and done else b.searches[-1])}"
        if isinstance(event, BranchSources):
            files = len({s.ref for s in event.sources})
            return f"{b.id}: given {len(event.sources)} passages from {files} of your files"
        if isinstance(event, (BranchQueued, BranchStarted, BranchRetrying, BranchDone, BranchFailed)):
            if isinstance(event, BranchStarted) and event.attempt > 1:
                return f"{b.id}: attempt {event.attempt}"
            return f"{b.id}: {describe(b, event.t)}"
        return None

    def _draw(self) -> None:
        s = self.state
        if s.started is None:
            return
        lines = [f"{s.started.recipe} · {s.started.strategy} · {s.started.provider}/{s.started.model} · {s.now:.1f} s"]
        width = max((len(b.id) for b in s.lanes()), default=4)
        for b in s.lanes():
            lines.append(f" {look(b.status).glyph} {b.id:<{width}}  {describe(b, s.now)}")
        agg = s.aggregate
        lines.append(f" {look(agg.status).glyph} {'aggregate':<{width}}  {agg.method} · {agg.status}")
        lines += [f"   batch {b.batch}: {batch_counts(b)}" for b in s.batches.values()]
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F")  # back to the block's first line
        self.out.write("".join(f"\x1b[2K{strip_controls(line)}\n" for line in lines))
        self.out.flush()
        self._drawn = len(lines)
        self._last_draw = time.monotonic()
