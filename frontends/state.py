"""What a front end knows about a run: the event stream folded into plain state.

Every front end (printer, report, TUI, session list) builds its view by `RunState.apply(event)`, so a live run,
a replayed session and an interrupted one all look the same once their events are in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from fanout.strategies.events import (
    AggregateDone,
    AggregateStarted,
    AggregateToken,
    BatchProgress,
    BatchSubmitted,
    BranchAdded,
    BranchDone,
    BranchFailed,
    BranchInfo,
    BranchMetrics,
    BranchQueued,
    BranchRetrying,
    BranchSearch,
    BranchSources,
    BranchStarted,
    BranchToken,
    Cited,
    Event,
    PlanDone,
    PlanStarted,
    RunDone,
    RunMetrics,
    RunResumed,
    RunStarted,
    Source,
    WavesDone,
)
from fanout.strategies.recipe import AGGREGATE_ID, is_planner_id, planner_id

from .quality import Quality, measure
from .sourcing import Sourcing, source_quality, sourcing
from .status import Status

WAITING, QUEUED, STREAMING, RETRYING, DONE, FAILED, CANCELLED = (
    Status.WAITING, Status.QUEUED, Status.STREAMING, Status.RETRYING, Status.DONE, Status.FAILED, Status.CANCELLED
)


@dataclass
class Segment:
    """A stretch of a branch's timeline: "deps", "queue", "backoff" or "stream" from `start` to `end` seconds."""

    kind: str
    start: float
    end: float | None = None


@dataclass
class Search:
    """One web search of a branch's call, as far as it has got."""

    query: str
    status: str = "searching"  # "searching" | "done" | "failed"
    found: int = 0
    error: str = ""


@dataclass
class BranchState:
    info: BranchInfo
    status: Status = WAITING
    chunks: list[str] = field(default_factory=list)
    final_text: str | None = None
    metrics: BranchMetrics | None = None
    error: str = ""
    attempt: int = 0
    retry_reason: str = ""
    retry_delay: float = 0.0
    retry_at: float = 0.0  # run time at which the retry was announced
    cached: bool = False
    skipped: bool = False  # failed without running: a dependency failed, or the run stopped first
    started: float | None = None
    first_token: float | None = None
    ended: float | None = None
    segments: list[Segment] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)  # what the text says: {"answer": ...}, {"json": ...}
    kept: bool = False  # resumed: taken from the session as it was, not run again
    searches: list[Search] = field(default_factory=list)  # the current attempt's web searches
    retrieval: str = ""  # what its passages of the user's files were retrieved for
    given: tuple[Source, ...] = ()  # those passages
    received: tuple[Source, ...] = ()  # the pages its searches returned (once done)
    cited: tuple[Cited, ...] = ()  # its answer's web citations (once done)
    retries: int = 0  # counted live, as they happen (the metrics say it only once the call is over)
    throttles: int = 0

    @property
    def text(self) -> str:
        return self.final_text if self.final_text is not None else "".join(self.chunks)

    @property
    def tokens_seen(self) -> int:
        """Streamed so far: one chunk a token event."""
        return len(self.chunks)

    def reset(self, t: float) -> None:
        """Back to waiting, in place (the app's pane holds this object): a resumed run runs the branch again."""
        self.__dict__.update(BranchState(self.info).__dict__)
        self._open("deps", t)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def title(self) -> str:
        return self.info.title

    def _open(self, kind: str, t: float) -> None:
        self._close(t)
        self.segments.append(Segment(kind, t))

    def _close(self, t: float) -> None:
        if self.segments and self.segments[-1].end is None:
            self.segments[-1].end = t


@dataclass
class AggregateState:
    method: str = ""
    status: Status = WAITING
    chunks: list[str] = field(default_factory=list)
    final_text: str | None = None
    failed: tuple[str, ...] = ()
    result: dict[str, Any] = field(default_factory=dict)
    metrics: BranchMetrics | None = None
    error: str = ""
    started: float | None = None  # run time of AggregateStarted
    ended: float | None = None  # run time of AggregateDone
    retries: int = 0  # counted live, as they happen
    throttles: int = 0

    @property
    def text(self) -> str:
        return self.final_text if self.final_text is not None else "".join(self.chunks)

    @property
    def flag(self) -> str:
        """Why the result is no result of the model's own ("echo: 93% of this result repeats its own prompt ...",
        "empty: ..."), or "". A `checks` aggregate's `flagged` is its verdict on the input (a bool), not this."""
        flag = self.result.get("flagged")
        return flag if isinstance(flag, str) and self.status == DONE else ""


@dataclass
class PlanState:
    """A wave's planner (the first wave's, or a later wave's follow-up planner): its call as a lane of its own (a
    pane, a timeline row), and what it decided."""

    lane: BranchState
    min_branches: int = 2
    max_branches: int = 8
    reused: bool = False  # made once for a comparison, shown in every strategy's run, counted once
    planned: tuple[str, ...] = ()  # the ids of the branches it decided
    warnings: tuple[str, ...] = ()
    error: str = ""
    wave: int = 1

    @property
    def status(self) -> str:
        return self.lane.status

    @property
    def text(self) -> str:
        return self.lane.text


@dataclass
class RunState:
    started: RunStarted | None = None
    branches: dict[str, BranchState] = field(default_factory=dict)
    aggregate: AggregateState = field(default_factory=AggregateState)
    waves: list[PlanState] = field(default_factory=list)  # each wave's planner, in wave order
    stopped: WavesDone | None = None  # a run of several waves: how many ran, and why no more were planned
    done: RunDone | None = None
    now: float = 0.0  # the time of the latest event
    ended: bool = False  # the stream is over (a replayed session may end without a RunDone)
    # The quality figures change only when a branch or the aggregate finishes: measured then, once, on demand.
    _quality: Quality | None = field(default=None, repr=False, compare=False)
    resumed: RunResumed | None = None  # the run went on from its session: the latest such part
    batches: dict[str, BatchProgress] = field(default_factory=dict)  # provider batches by id: the latest counts
    # The sources, numbered, and every citation checked: measured when asked, again only after what they rest on
    # changed.
    _sourcing: Sourcing | None = field(default=None, repr=False, compare=False)

    @property
    def plan(self) -> PlanState | None:
        """The first wave's planner (the plan), when the run has one."""
        return self.waves[0] if self.waves else None

    @property
    def status(self) -> str:
        if self.done is not None:
            return self.done.status
        if self.ended:
            return "incomplete"
        return "running" if self.started is not None else "pending"

    def end(self) -> None:
        """No more events will come: a run without its RunDone was cut short (killed), and says so."""
        self.ended = True

    @property
    def metrics(self) -> RunMetrics | None:
        return self.done.metrics if self.done else None

    @property
    def quality(self) -> Quality:
        """Findings, distinct findings, redundancy, pairwise overlap and flagged contradictions of what has
        finished so far (frontends.quality)."""
        if self._quality is None:
            # The branches' own answers: a reduce step restates them, so counting it would count them twice.
            outputs = [(b.id, b.text) for b in self.branches.values() if b.status == DONE and not b.info.stage]
            measured = measure(outputs, self.aggregate.text if self.aggregate.status == DONE else "")
            self._quality = source_quality(measured, self.sourcing)
        return self._quality

    @property
    def sourcing(self) -> Sourcing:
        """The run's sources numbered once, each branch's citations and the aggregate's checked (frontends.sourcing)."""
        if self._sourcing is None:
            self._sourcing = sourcing([b for b in self.branches.values() if not b.info.stage], self.aggregate)
        return self._sourcing

    @classmethod
    def from_events(cls, events: Iterable[Event], *, ended: bool = False) -> "RunState":
        """The fold of a whole stream (a session's events, a test's); `ended`: no more will come."""
        state = cls()
        for event in events:
            state.apply(event)
        if ended:
            state.end()
        return state

    def apply(self, event: Event) -> BranchState | None:
        """Folds one event in; returns the branch it changed, if any."""
        self.now = max(self.now, event.t)
        if event.__class__ is BranchToken:
            # Most events by far (one a token): straight to its branch, past the table below (a planner's token
            # goes through the table, to its lane).
            b = self.branches.get(event.branch)  # type: ignore[attr-defined]
            if b is not None:
                _token(b, event)  # type: ignore[arg-type]
                return b
        if event.__class__ in _CHANGES_QUALITY:
            self._quality = self._sourcing = None
        fold = _FOLDS.get(event.__class__)
        return fold(self, event) if fold is not None else None

    # --- one method per kind of event (the table _FOLDS below) ----------------------------------------------------

    def _resumed(self, event: RunResumed) -> None:
        self.resumed = event

    def _run_started(self, event: RunStarted) -> None:
        if self.started is not None and self.started.session_id == event.session_id:
            self._continue(event)
            return
        self.started = event
        self.aggregate.method = event.aggregate
        for info in event.branches:
            self._add_branch(info, event.t)

    def _add_branch(self, info: BranchInfo, t: float) -> BranchState:
        b = BranchState(info)
        b._open("deps", t)
        self.branches[info.id] = b
        return b

    def _branch_added(self, event: BranchAdded) -> BranchState:
        """A reduce step of the aggregate: a branch from now on."""
        b = self.branches.get(event.info.id) or BranchState(event.info)
        if not b.segments:
            b._open("deps", event.t)
        self.branches[event.info.id] = b
        return b

    def _run_done(self, event: RunDone) -> None:
        self.done = event
        for b in self.lanes():
            b._close(event.t)

    def lane(self, lane_id: str) -> BranchState | None:
        """The lane of that id: a wave's planner's, or a branch's (a reduce step's included)."""
        return self._lane(lane_id)

    def _lane(self, branch_id: str) -> BranchState | None:
        """The lane a call's event belongs to: a wave's planner's, or a branch's."""
        if is_planner_id(branch_id):
            return next((p.lane for p in self.waves if p.lane.id == branch_id), None)
        return self.branches.get(branch_id)

    def _queued(self, event: BranchQueued) -> BranchState | None:
        b = self._lane(event.branch)
        if b is not None:
            b.status = QUEUED
            b._open("queue", event.t)
        return b

    def _started(self, event: BranchStarted) -> BranchState | None:
        if event.branch == AGGREGATE_ID:
            self.aggregate.status = STREAMING
            return None
        b = self._lane(event.branch)
        if b is not None:
            b.status = STREAMING
            b.attempt = event.attempt
            b.cached = b.cached or event.cached
            b.started = b.started if b.started is not None else event.t
            b._open("stream", event.t)
        return b

    def _call_token(self, event: BranchToken) -> BranchState | None:
        """A token of the planner's call (the aggregate's come as AggregateToken)."""
        b = self._lane(event.branch)
        if b is not None:
            _token(b, event)
        return b

    def _search(self, event: BranchSearch) -> BranchState | None:
        b = self._lane(event.branch)
        if b is None:
            return None
        if event.status != "searching":
            # A search ends where it began: the first still under way (a provider names the query only at the end).
            open_ = next((s for s in b.searches if s.status == "searching"), None)
            if open_ is not None:
                open_.query = event.query or open_.query
                open_.status, open_.found, open_.error = event.status, event.found, event.error
                return b
        b.searches.append(Search(event.query, event.status, event.found, event.error))
        return b

    def _sources(self, event: BranchSources) -> BranchState | None:
        b = self._lane(event.branch)
        if b is not None:
            b.retrieval, b.given = event.query, tuple(event.sources)
        return b

    def _retrying(self, event: BranchRetrying) -> BranchState | None:
        if event.branch == AGGREGATE_ID:
            self.aggregate.status = RETRYING
            self.aggregate.retries += 1
            self.aggregate.throttles += event.throttled
            if event.restart:
                self.aggregate.chunks.clear()
            return None
        b = self._lane(event.branch)
        if b is not None:
            b.status = RETRYING
            b.retries += 1
            b.throttles += event.throttled
            b.error, b.ended = "", None  # a branch retried by hand had failed: no longer
            b.retry_reason = event.reason
            b.retry_delay = event.delay
            b.retry_at = event.t
            if event.restart:
                b.chunks.clear()
            b.searches.clear()  # the next attempt searches afresh (a stream can break before any text)
            b._open("backoff", event.t)
        return b

    def _branch_done(self, event: BranchDone) -> BranchState | None:
        b = self._lane(event.branch)
        if b is not None:
            b.status = DONE
            b.final_text = event.text
            b.result = dict(event.result)
            b.metrics = event.metrics
            b.cached = b.cached or event.metrics.cached
            b.kept = event.kept
            b.received, b.cited = tuple(event.sources), tuple(event.citations)
            b.ended = event.t
            b._close(event.t)
        return b

    def _branch_failed(self, event: BranchFailed) -> BranchState | None:
        b = self._lane(event.branch)
        if b is not None:
            b.status = CANCELLED if event.cancelled else FAILED
            b.skipped = event.skipped
            b.error = event.error
            b.metrics = event.metrics
            b.ended = event.t
            b._close(event.t)
        return b

    def _plan_started(self, event: PlanStarted) -> PlanState:
        title = "Plan" if event.wave == 1 else "Follow-up plan"
        lane = BranchState(BranchInfo(planner_id(event.wave), title, wave=event.wave), status=QUEUED)
        lane._open("queue", event.t)
        p = PlanState(lane, event.min_branches, event.max_branches, event.reused, wave=event.wave)
        # A resumed session plans again: its wave's planner starts over, in place.
        self.waves = sorted([w for w in self.waves if w.wave != event.wave] + [p], key=lambda w: w.wave)
        return p

    def _plan_done(self, event: PlanDone) -> None:
        p = next((w for w in self.waves if w.wave == event.wave), None)
        if p is None:  # a session cut before its PlanStarted line: still show what was decided
            p = self._plan_started(PlanStarted(event.t, reused=event.reused, wave=event.wave))
        lane = p.lane
        lane.final_text = event.text
        lane.metrics = event.metrics
        lane.error = event.error
        lane.status = FAILED if event.error else DONE
        lane.cached = lane.cached or bool(event.metrics and event.metrics.cached)
        lane.ended = event.t
        lane._close(event.t)
        p.reused, p.error, p.warnings = event.reused, event.error, tuple(event.warnings)
        p.planned = tuple(info.id for info in event.branches)
        for info in event.branches:
            self._add_branch(info, event.t)

    def _batch_submitted(self, event: BatchSubmitted) -> None:
        self.batches[event.batch] = BatchProgress(event.t, event.batch, "submitted", len(event.branch_ids))

    def _batch_progress(self, event: BatchProgress) -> None:
        self.batches[event.batch] = event
    def _waves_done(self, event: WavesDone) -> None:
        self.stopped = event

    def lanes(self) -> list[BranchState]:
        """Every call's lane in run order: each wave's planner (when the run plans), then that wave's branches;
        the aggregate's reduce steps last."""
        if len(self.waves) <= 1:
            return ([self.waves[0].lane] if self.waves else []) + list(self.branches.values())
        by_wave: dict[int, list[BranchState]] = {p.wave: [p.lane] for p in self.waves}
        steps = []
        for b in self.branches.values():
            if b.info.stage:
                steps.append(b)
            else:
                by_wave.setdefault(b.info.wave, []).append(b)
        return [lane for wave in sorted(by_wave) for lane in by_wave[wave]] + steps

    def counted_lanes(self) -> list[BranchState]:
        """The lanes whose calls this run made: a plan made once for a comparison is shown in it, not counted."""
        return [lane for lane in self.lanes() if not (self.plan and lane is self.plan.lane and self.plan.reused)]

    def _continue(self, started: RunStarted) -> None:
        """A session replayed whole: its resumed part starts again. Kept branches stay as they were (their
        BranchDone comes again); every other branch and the aggregate start over."""
        kept = set(self.resumed.kept) if self.resumed else set()
        self.done = None
        self.stopped = None
        self.started = started
        for bid, b in self.branches.items():
            if bid not in kept:
                b.reset(started.t)
        self.aggregate.__dict__.update(AggregateState(method=started.aggregate).__dict__)

    def _aggregate_started(self, event: AggregateStarted) -> None:
        a = self.aggregate
        a.method = event.method
        a.failed = event.failed
        a.status = QUEUED
        a.started = event.t

    def _aggregate_token(self, event: AggregateToken) -> None:
        self.aggregate.status = STREAMING
        self.aggregate.chunks.append(event.text)

    def _aggregate_done(self, event: AggregateDone) -> None:
        a = self.aggregate
        a.final_text = event.text
        a.failed = event.failed
        a.result = dict(event.result)
        a.metrics = event.metrics
        a.error = event.error
        a.status = FAILED if event.error else DONE
        a.ended = event.t

    def branch_list(self) -> list[BranchState]:
        return list(self.branches.values())


def _token(b: BranchState, event: BranchToken) -> None:
    if b.first_token is None:
        b.first_token = event.t
    b.chunks.append(event.text)


# Each event type's fold. A type missing here changes nothing a front end shows.
_FOLDS: dict[type[Event], Callable[[RunState, Any], BranchState | None]] = {
    RunResumed: RunState._resumed,
    RunStarted: RunState._run_started,
    PlanStarted: RunState._plan_started,
    PlanDone: RunState._plan_done,
    WavesDone: RunState._waves_done,
    BranchAdded: RunState._branch_added,
    BranchQueued: RunState._queued,
    BranchStarted: RunState._started,
    BranchToken: RunState._call_token,
    BranchSearch: RunState._search,
    BranchSources: RunState._sources,
    BranchRetrying: RunState._retrying,
    BranchDone: RunState._branch_done,
    BranchFailed: RunState._branch_failed,
    AggregateStarted: RunState._aggregate_started,
    AggregateToken: RunState._aggregate_token,
    AggregateDone: RunState._aggregate_done,
    BatchSubmitted: RunState._batch_submitted,
    BatchProgress: RunState._batch_progress,
    RunDone: RunState._run_done,
}
# The events after which the quality figures must be measured again.
_CHANGES_QUALITY = frozenset({BranchStarted, BranchDone, BranchFailed, AggregateDone, RunStarted, BranchSources,
                              PlanDone})
