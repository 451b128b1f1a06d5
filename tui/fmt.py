"""What the run screen says about a branch or a run, as plain strings: badges, metrics lines, totals.

Pure functions of `RunState` and a clock, so panes, the compact list and the tests all say the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fanout.frontends.report import fmt_cost, fmt_latency, fmt_seconds, fmt_tokens
from fanout.strategies.metrics import calls_sum, measurable, speedup as speedup_of
from fanout.frontends.state import CANCELLED, DONE, FAILED, QUEUED, RETRYING, STREAMING, WAITING, BranchState, RunState
from fanout.frontends.status import Status
from fanout.strategies.events import total_cost


@dataclass(frozen=True)
class Badge:
    kind: Status  # how it looks: frontends.status.LOOK
    label: str


def badge(b: BranchState, now: float) -> Badge:
    if b.status == WAITING:
        return Badge(Status.WAITING, "waiting on " + ", ".join(b.info.after) if b.info.after else "waiting")
    if b.status == QUEUED:
        return Badge(Status.QUEUED, "queued")
    if b.status == STREAMING:
        return Badge(Status.STREAMING, f"streaming · attempt {b.attempt}" if b.attempt > 1 else "streaming")
    if b.status == RETRYING:
        left = max(0, math.ceil(b.retry_at + b.retry_delay - now))
        return Badge(Status.RETRYING, f"retrying in {left} s ({b.retry_reason})")
    if b.status == DONE:
        return Badge(Status.CACHED, "cached") if b.cached else Badge(Status.DONE, "done")
    if b.status == CANCELLED:
        return Badge(Status.CANCELLED, "cancelled")
    if b.status == FAILED and b.skipped:
        return Badge(Status.SKIPPED, "skipped")
    return Badge(Status.FAILED, "failed")


def _rate(tokens: int, seconds: float | None) -> str:
    if not seconds or seconds <= 0 or not tokens:
        return "- tok/s"
    return f"{tokens / seconds:.0f} tok/s"


def metrics_line(b: BranchState, now: float) -> str:
    """tokens · tokens/s · ttft · latency · cost (most telling first: a narrow pane cuts the end), measured
    figures once done, running ones while streaming."""
    m = b.metrics
    if b.status == DONE and m is not None:
        stream_time = (b.ended - b.first_token) if (b.ended is not None and b.first_token is not None) else None
        if m.cached:
            return (f"{fmt_latency(m)} · {fmt_tokens(m.output_tokens, m.tokens_estimated)} tok · "
                    f"saved {m.saved_tokens} tok")
        return (
            f"{fmt_tokens(m.output_tokens, m.tokens_estimated)} tok · {_rate(m.output_tokens, stream_time)} · "
            f"ttft {fmt_seconds(m.ttft)} · {fmt_seconds(m.latency)} · {fmt_cost(m.cost)}"
        )
    if b.started is None:
        return ""
    ttft = (b.first_token - b.started) if b.first_token is not None else None
    streamed = (now - b.first_token) if b.first_token is not None else None
    return (
        f"{b.tokens_seen} tok · {_rate(b.tokens_seen, streamed)} · ttft {fmt_seconds(ttft)} · "
        f"{fmt_seconds(max(0.0, (b.ended if b.ended is not None else now) - b.started))}"
    )


def placeholder(b: BranchState) -> str:
    """What a pane shows before (or instead of) text."""
    if b.status == WAITING:
        return f"waiting for {', '.join(b.info.after)} to finish" if b.info.after else "waiting to start"
    if b.status == QUEUED:
        return "waiting for a free slot on the provider"
    if b.status == STREAMING:
        return "waiting for the first token"
    if b.status == RETRYING:
        return f"attempt {b.attempt} failed: {b.retry_reason}; trying again after {b.retry_delay:.1f} s"
    if b.status in (FAILED, CANCELLED):
        return b.error or b.status
    return ""


def lane_title(b: BranchState) -> str:
    """A pane's title: a later wave's lanes (its follow-up planner, its branches) are marked with their wave."""
    return f"{b.title} · wave {b.info.wave}" if b.info.wave > 1 else b.title


@dataclass(frozen=True)
class Totals:
    wall: float
    calls_sum: float
    speedup: float | None  # None: not measured (cached calls, or every branch failed)
    tokens: int
    estimated: bool
    cost: float | None
    throttles: int
    retries: int
    calls: int | None  # known once the run is over
    final: bool
    cached: int = 0
    cached_latency: float = 0.0


def totals(state: RunState, now: float) -> Totals:
    """The run's own RunMetrics once it is over; until then, the same figures from the branches so far."""
    m = state.metrics
    if m is not None:
        return Totals(m.wall, m.calls_sum, m.speedup, m.input_tokens + m.output_tokens, m.tokens_estimated,
                      m.cost, m.throttles, m.retries, m.calls, True, m.cached, m.cached_latency)
    tokens = throttles = retries = 0
    estimated = False
    running = 0.0  # calls still under way count with the time they have taken so far
    # A fresh planner's call counts like a branch's; a plan reused from a session made no call in this run.
    counted = state.counted_lanes()
    done = [b.metrics for b in counted if b.metrics is not None]
    if state.aggregate.metrics is not None:
        done.append(state.aggregate.metrics)
    cached = [m for m in done if m.cached]
    for b in counted:
        if b.metrics is not None:
            tokens += b.metrics.input_tokens + b.metrics.output_tokens
            throttles += b.metrics.throttles
            retries += b.metrics.retries
            estimated = estimated or b.metrics.tokens_estimated
        elif b.started is not None and not b.cached:
            running += max(0.0, now - b.started)
            tokens += b.tokens_seen
    total = calls_sum(done) + running
    cost = total_cost(b.metrics for b in counted if b.metrics is not None)
    failed = [b for b in state.branch_list() if b.status in (FAILED, CANCELLED)]
    measured = measurable(len(cached), every_branch_failed=bool(state.branches) and len(failed) == len(state.branches))
    return Totals(now, total, speedup_of(total, now) if measured else None, tokens, estimated, cost, throttles,
                  retries, None, False, len(cached), sum(m.cached_latency or 0.0 for m in cached))


def totals_lines(t: Totals) -> list[tuple[str, str]]:
    rows = [
        ("wall", fmt_seconds(t.wall)),
        ("sum of calls", fmt_seconds(t.calls_sum)),
        ("speed-up", f"{t.speedup:.2f}×" if t.speedup is not None else "not measured" if t.cached else "-"),
        ("tokens", fmt_tokens(t.tokens, t.estimated)),
        ("cost", fmt_cost(t.cost)),
        ("throttles", str(t.throttles)),
        ("retries", str(t.retries)),
    ]
    if t.calls is not None:
        rows.append(("calls", str(t.calls)))
    if t.cached:  # the timings above are not all measured: say how many came from the cache, and what they took
        took = f" (took {fmt_seconds(t.cached_latency)})" if t.cached_latency else ""  # unknown in old sessions
        rows.append(("cached", f"{t.cached}{took}"))
    return rows
