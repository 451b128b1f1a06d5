"""What the run screen says about a branch or a run, as plain strings: badges, metrics lines, totals.

Pure functions of `RunState` and a clock, so panes, the compact list and the tests all say the same thing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from fanout.frontends.report import fmt_cost, fmt_latency, fmt_seconds, fmt_tokens
from fanout.strategies.metrics import calls_sum, concurrency as concurrency_of, measurable
from fanout.frontends.state import CANCELLED, DONE, FAILED, QUEUED, RETRYING, STREAMING, WAITING, BranchState, RunState
from fanout.core.text import shorten
from fanout.frontends.status import LOOK, Status
from fanout.strategies.events import total_cost


@dataclass(frozen=True)
class Badge:
    kind: Status  # how it looks: frontends.status.LOOK
    label: str


def chip_style(kind: Status) -> str:
    """A status chip's style: loud ones solid in their colour, the others tinted, the colourless ones dim."""
    shown = LOOK[kind]
    if not shown.colour:
        return "$text-muted"
    if shown.loud:
        return f"bold reverse ${shown.colour}"
    return f"bold ${shown.colour} on ${shown.colour} 20%"


# Each strategy's one colour, wherever it is drawn (the compare screen's timelines, bars and table).
STRATEGY_STYLE = {"sequential": "$primary", "parallel": "$accent", "hybrid": "$success"}


def strategy_style(strategy: str) -> str:
    """A strategy's one colour wherever strategies are compared: its timeline, legend entry, heading and bars."""
    return STRATEGY_STYLE.get(strategy, "$foreground")


def status_style(kind: Status) -> str:
    """Text or a bar in a status's colour (dim when it has none)."""
    colour = LOOK[kind].colour
    return f"${colour}" if colour else "$text-muted"


_STATUS_ERROR = re.compile(r"(\d{3}) [a-z ]+: (.*)", re.S)
_STATUS_ONLY = re.compile(r"(\d{3})\b")
_RETRY_NOTE = re.compile(r"\s*\((gave up after|server asked|restarting)[^)]*\)\s*$")
_CAUSES = (("cannot connect", "unreachable"), ("timed out", "timeout"), ("no response for", "no response"),
           ("the stream stalled", "stalled"), ("the connection to", "dropped"), ("stream error", "stream error"),
           ("malformed stream", "malformed stream"), ("connection to", "connection failed"))
CAUSE_WIDTH = 28


def cause(error: str, *, brief: bool = False) -> str:
    """The few words of an error that fit a badge: "400 · context too long", "unreachable", "timeout"; `brief`:
    an HTTP status alone (a retry's badge, whose pane says the rest)."""
    text = _RETRY_NOTE.sub("", " ".join(error.split()).removeprefix("not tried: "))
    status = _STATUS_ERROR.match(text) or (_STATUS_ONLY.match(text) if brief else None)
    if status and brief:
        return status.group(1)
    if status:
        return f"{status.group(1)} · {shorten(status.group(2), CAUSE_WIDTH - 6)}"
    for start, short in _CAUSES:
        if text.startswith(start):
            return short
    return shorten(text, CAUSE_WIDTH)


def waiting_on(after: tuple[str, ...], room: int = 24) -> str:
    """"waiting on hardware, software", or with many "waiting on hardware +3" (the pane says them all)."""
    if not after:
        return "waiting"
    every = ", ".join(after)
    return f"waiting on {every}" if len(every) <= room or len(after) == 1 else f"waiting on {after[0]} +{len(after) - 1}"


def fit_label(label: str, width: int) -> str:
    """An id in `width` cells, cut with an ellipsis; the short part after a separator is kept, since that is what
    tells apart "aggregate.r1.1" from "aggregate.r2.1" ("aggreg…r1.1")."""
    if len(label) <= width:
        return label
    first = re.split(r"[.\-_ ]", label, maxsplit=1)
    last = re.split(r"[.\-_ ]", label)[-1]
    for tail, room in ((first[-1], width // 2), (last, width // 2)):
        if len(first) > 1 and 0 < len(tail) <= room:
            return label[:width - 1 - len(tail)] + "…" + tail
    return label[:width - 1] + "…"


def never_ran(b: BranchState) -> bool:
    """It failed without a call: a dependency failed first, or its provider was already found unreachable."""
    return b.status == FAILED and (b.skipped or b.started is None)


def failed_dependencies(b: BranchState, state: RunState) -> list[str]:
    return [dep for dep in b.info.after if dep in state.branches and state.branches[dep].status.unsuccessful]


def badge(b: BranchState, now: float, state: RunState | None = None) -> Badge:
    if b.status == WAITING:
        return Badge(Status.WAITING, waiting_on(b.info.after))
    if b.status == QUEUED:
        return Badge(Status.QUEUED, "queued")
    if b.status == STREAMING:
        again = f" · attempt {b.attempt}" if b.attempt > 1 else ""
        if not b.chunks and not b.cached:
            waited = int(now - _attempt_start(b))
            return Badge(Status.AWAITING, "awaiting first token" + (f" · {waited} s" if waited >= 1 else "") + again)
        return Badge(Status.STREAMING, "streaming" + again)
    if b.status == RETRYING:
        return Badge(Status.RETRYING, f"retrying in {retry_left(b, now)} s · {cause(b.retry_reason, brief=True)}")
    if b.status == DONE:
        return Badge(Status.CACHED, "cached") if b.cached else Badge(Status.DONE, "done")
    if b.status == CANCELLED:
        return Badge(Status.CANCELLED, "cancelled")
    if never_ran(b):
        deps = failed_dependencies(b, state) if state is not None else []
        why = f"{', '.join(deps)} failed" if deps else cause(b.error)
        return Badge(Status.SKIPPED, f"skipped ({why})")
    return Badge(Status.FAILED, cause(b.error) if b.error else "failed")


def _attempt_start(b: BranchState) -> float:
    """When the attempt under way started: its stream segment's start."""
    for seg in reversed(b.segments):
        if seg.kind == "stream":
            return seg.start
    return b.started or 0.0


def retry_left(b: BranchState, now: float) -> int:
    """Whole seconds until the next attempt: the badge and the pane say the same."""
    return max(0, math.ceil(b.retry_at + b.retry_delay - now))


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


def placeholder(b: BranchState, now: float) -> str:
    """What a pane shows before (or instead of) text; a failure's own message is the pane's error line."""
    if b.status == WAITING:
        return f"waiting for {', '.join(b.info.after)} to finish" if b.info.after else "waiting to start"
    if b.status == QUEUED:
        return "waiting for a free slot on the provider"
    if b.status == STREAMING:
        return "the request is sent: waiting for the first token"
    if b.status == RETRYING:
        return f"attempt {b.attempt} failed: {b.retry_reason}; trying again in {retry_left(b, now)} s"
    if b.status.unsuccessful and not b.error:
        return str(b.status)
    return ""


def lane_title(b: BranchState) -> str:
    """A pane's title: a later wave's lanes (its follow-up planner, its branches) are marked with their wave."""
    return f"{b.title} · wave {b.info.wave}" if b.info.wave > 1 else b.title


@dataclass(frozen=True)
class Totals:
    wall: float
    calls_sum: float
    concurrency: float | None  # None: not measured (cached calls, or every branch failed)
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
        return Totals(m.wall, m.calls_sum, m.concurrency, m.input_tokens + m.output_tokens, m.tokens_estimated,
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
    for b in [*counted, state.aggregate]:  # retries are counted as they happen, not when the call is over
        retries += max(b.retries, b.metrics.retries if b.metrics else 0)
        throttles += max(b.throttles, b.metrics.throttles if b.metrics else 0)
    for b in counted:
        if b.metrics is not None:
            tokens += b.metrics.input_tokens + b.metrics.output_tokens
            estimated = estimated or b.metrics.tokens_estimated
        elif b.started is not None and not b.cached:
            running += max(0.0, now - b.started)
            tokens += b.tokens_seen
    total = calls_sum(done) + running
    cost = total_cost(b.metrics for b in counted if b.metrics is not None)
    failed = [b for b in state.branch_list() if b.status in (FAILED, CANCELLED)]
    measured = measurable(len(cached), every_branch_failed=bool(state.branches) and len(failed) == len(state.branches))
    return Totals(now, total, concurrency_of(total, now) if measured else None, tokens, estimated, cost, throttles,
                  retries, None, False, len(cached), sum(m.cached_latency or 0.0 for m in cached))


def trouble(state: RunState) -> list[tuple[str, Status]]:
    """What went wrong so far, for the run's header: "2 failed", "3 skipped", "7 retries" (each only when > 0).
    The aggregate's own state is its pane's: when its inputs failed it fails too, and that is no news."""
    lanes = state.lanes()
    failed = sum(b.status == FAILED and not never_ran(b) for b in lanes)
    skipped = sum(never_ran(b) for b in lanes)
    retries = sum(max(b.retries, b.metrics.retries if b.metrics else 0) for b in [*lanes, state.aggregate])
    counts = ((failed, "failed", Status.FAILED), (skipped, "skipped", Status.SKIPPED),
              (retries, "retry" if retries == 1 else "retries", Status.RETRYING))
    return [(f"{n} {word}", kind) for n, word, kind in counts if n]


def totals_lines(t: Totals) -> list[tuple[str, str]]:
    rows = [
        ("wall", fmt_seconds(t.wall)),
        ("sum of calls", fmt_seconds(t.calls_sum)),
        ("concurrency", f"{t.concurrency:.2f}×" if t.concurrency is not None else "not measured" if t.cached else "-"),
        ("tokens", fmt_tokens(t.tokens, t.estimated)),
        ("cost", fmt_cost(t.cost)),
        ("retries", str(t.retries)),
    ]
    if t.calls is not None:
        rows.append(("calls", str(t.calls)))
    if t.throttles:  # of the retries, the rate limits
        rows.append(("throttles", str(t.throttles)))
    if t.cached:  # the timings above are not all measured: say how many came from the cache, and what they took
        took = f" (took {fmt_seconds(t.cached_latency)})" if t.cached_latency else ""  # unknown in old sessions
        rows.append(("cached", f"{t.cached}{took}"))
    return rows
