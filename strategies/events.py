"""The one stream of typed events the engine publishes.

Front ends (the headless printer, the session recorder, the TUI, replay) consume only these. Every event is a
frozen dataclass with a `t` field: seconds since the run started, on the engine's clock. Events round-trip
through plain dicts (`to_dict` / `from_dict`) so a session on disk replays as the very same stream.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    t: float

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["type"] = self.kind
        return data


@dataclass(frozen=True)
class BranchInfo:
    """What a front end needs to lay a branch out before it runs."""

    id: str
    title: str
    after: tuple[str, ...] = ()
    provider: str = ""
    model: str = ""
    group: str = ""  # voting: the section (or vote) this voter belongs to
    stage: str = ""  # "reduce": a step of the aggregate (a partial merge), added while the run goes
    wave: int = 1  # a run of several waves: the wave whose planner decided this branch


@dataclass(frozen=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    session_id: str
    recipe: str
    strategy: str
    provider: str
    model: str
    inputs: dict[str, str]
    branches: tuple[BranchInfo, ...]
    aggregate: str  # the aggregation kind, e.g. "synthesize"
    started_at: float  # wall clock (epoch seconds), for "when"


@dataclass(frozen=True)
class PlanStarted(Event):
    """The run's first call: a planner decides (more) branches. Its stream comes as Branch* events with the
    branch id "plan"; the branches it decides arrive with PlanDone. In a run of several waves, each later wave
    starts the same way: its follow-up planner's events carry the id "plan-2", "plan-3", ... (`planner_id`)."""

    kind: ClassVar[str] = "plan_started"
    min_branches: int = 2
    max_branches: int = 8
    reused: bool = False  # compare / bench: the plan was made once, before, and every strategy gets it
    wave: int = 1


@dataclass(frozen=True)
class PlanDone(Event):
    kind: ClassVar[str] = "plan_done"
    text: str
    branches: tuple[BranchInfo, ...] = ()  # the planned branches, laid out like RunStarted's
    warnings: tuple[str, ...] = ()  # every repair made to the plan (too many angles, a dropped edge, ...)
    metrics: BranchMetrics | None = None
    error: str = ""  # non-empty: no usable plan; the first wave's fails the run, a later one's ends the waves
    reused: bool = False
    wave: int = 1


@dataclass(frozen=True)
class WavesDone(Event):
    """A run of several waves (`[plan] depth` > 1) plans no more: how many waves ran, and why it stopped (the
    depth, a follow-up planner that found the subject covered, a follow-up plan it could not use, ...)."""

    kind: ClassVar[str] = "waves_done"
    waves: int
    reason: str


@dataclass(frozen=True)
class RunResumed(Event):
    """The run goes on from its own session (`fanout resume`): the branches in `kept` finished before and are
    taken as they were; the rest run now. Comes just before the resumed part's RunStarted."""

    kind: ClassVar[str] = "run_resumed"
    previous: str  # what the session's status was: "incomplete", "cancelled", "partial", "failed"
    kept: tuple[str, ...]
    resumed_at: float  # wall clock (epoch seconds)


@dataclass(frozen=True)
class BranchAdded(Event):
    """A step that was not known when the run started (a reduce step of the aggregate): from now on it is a
    branch like the others, with its own queued, started, token and done events."""

    kind: ClassVar[str] = "branch_added"
    info: BranchInfo


@dataclass(frozen=True)
class BranchQueued(Event):
    """Dependencies are met; the branch now waits for a concurrency slot."""

    kind: ClassVar[str] = "branch_queued"
    branch: str


@dataclass(frozen=True)
class BranchStarted(Event):
    kind: ClassVar[str] = "branch_started"
    branch: str
    attempt: int = 1
    cached: bool = False


@dataclass(frozen=True)
class BranchToken(Event):
    kind: ClassVar[str] = "branch_token"
    branch: str
    text: str


@dataclass(frozen=True)
class Source:
    """Something a branch read: a page one of its web searches returned, or a passage of the user's own files it
    was given."""

    kind: str  # "web" | "file"
    ref: str  # the page's URL as the provider gave it, or the file's path
    title: str = ""
    detail: str = ""  # a page's age; a passage's lines, e.g. "lines 3-40"


@dataclass(frozen=True)
class Cited:
    """A web citation in a branch's answer, as the provider made it: characters [start, end) of the answer rest
    on the page (None: not said)."""

    url: str
    title: str = ""
    cited_text: str = ""
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class BranchSearch(Event):
    """A web search of a branch's call: announced when it starts ("searching"; the query may come only when it
    ends), then "done" with how many pages it found, or "failed" with the provider's error."""

    kind: ClassVar[str] = "branch_search"
    branch: str
    query: str = ""
    status: str = "searching"  # "searching" | "done" | "failed"
    found: int = 0
    error: str = ""


@dataclass(frozen=True)
class BranchSources(Event):
    """The passages of the user's own files (`--sources`) a branch is given, retrieved for its title, brief and
    prompt (`query`) before any branch runs; its prompt shows them numbered in the run's numbering."""

    kind: ClassVar[str] = "branch_sources"
    branch: str
    query: str
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True)
class BranchRetrying(Event):
    kind: ClassVar[str] = "branch_retrying"
    branch: str
    attempt: int  # the attempt that failed
    delay: float  # seconds of backoff before the next attempt
    reason: str  # e.g. "429 rate limited (Retry-After 2 s)"
    restart: bool = False  # tokens had arrived: the branch's text starts over
    throttled: bool = False  # the failure was a rate limit (the run's throttles count these)


@dataclass(frozen=True)
class BranchMetrics:
    ttft: float | None = None  # seconds from request to first token
    latency: float = 0.0  # seconds from first start to done, backoff included
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_estimated: bool = False  # the provider reported no usage
    retries: int = 0
    throttles: int = 0  # of the retries, how many were rate limits
    backoff: float = 0.0  # seconds spent waiting between attempts
    cost: float | None = 0.0  # USD; None: no price is known for the model (shown as unknown, never as $0)
    cached: bool = False
    saved_tokens: int = 0  # served from cache: tokens not spent again
    model: str = ""  # the model the provider reported
    cached_latency: float | None = None  # served from cache: the latency recorded when the call was made
    batch: str = ""  # answered in this provider batch: no token timing (ttft None), its latency the batch's
    searches: int = 0  # web searches the provider made (and billed) for this call


@dataclass(frozen=True)
class BranchDone(Event):
    kind: ClassVar[str] = "branch_done"
    branch: str
    text: str
    metrics: BranchMetrics = field(default_factory=BranchMetrics)
    finish_reason: str = ""
    # What the text says, when the branch has an answer form: {"answer": ...}, {"json": ...}, {"json_error": ...}
    result: dict[str, Any] = field(default_factory=dict)
    kept: bool = False  # a resumed run took this branch from its session as it was: no call was made
    sources: tuple[Source, ...] = ()  # the pages its web searches returned, in the order received
    citations: tuple[Cited, ...] = ()  # its answer's web citations


@dataclass(frozen=True)
class BranchFailed(Event):
    kind: ClassVar[str] = "branch_failed"
    branch: str
    error: str
    metrics: BranchMetrics = field(default_factory=BranchMetrics)
    cancelled: bool = False
    skipped: bool = False  # never ran: a dependency failed


@dataclass(frozen=True)
class AggregateStarted(Event):
    kind: ClassVar[str] = "aggregate_started"
    method: str
    failed: tuple[str, ...] = ()  # branches left out of the aggregate


@dataclass(frozen=True)
class AggregateToken(Event):
    kind: ClassVar[str] = "aggregate_token"
    text: str


@dataclass(frozen=True)
class AggregateDone(Event):
    kind: ClassVar[str] = "aggregate_done"
    method: str
    text: str
    failed: tuple[str, ...] = ()
    # Votes and structured merges put their verdict here: answer, confidence, tally, status, ...
    result: dict[str, Any] = field(default_factory=dict)
    metrics: BranchMetrics | None = None  # the aggregate's own LLM call, when it made one
    error: str = ""


@dataclass(frozen=True)
class BatchSubmitted(Event):
    """A provider batch exists: its id is kept the moment it is known, so a resumed run waits in it instead of
    submitting the same requests again."""

    kind: ClassVar[str] = "batch_submitted"
    batch: str  # the provider's batch id
    provider: str
    model: str
    branch_ids: tuple[str, ...]  # the branches whose requests it holds (custom_id: each one's id)


@dataclass(frozen=True)
class BatchProgress(Event):
    """A provider batch's status and request counts, as the provider reported them (published when they change)."""

    kind: ClassVar[str] = "batch_progress"
    batch: str
    status: str  # the provider's word: validating, in_progress, finalizing, completed, ended, expired...
    total: int = 0
    succeeded: int = 0
    failed: int = 0  # errored, expired and cancelled requests
    ended: bool = False


@dataclass(frozen=True)
class RunMetrics:
    """The run's totals (strategies/metrics.py computes them, the one definition):

    - calls_sum, "sum of calls": every call's measured latency, the aggregate's LLM call included; cache hits add
      nothing (they made no call).
    - concurrency: calls_sum / wall, how many calls were under way at once on average (1.0: none overlapped; not
      the speed-up against another strategy, which `fanout bench` and the compare screen give). None ("not
      measured") when any call was served from the cache or every branch failed.
    - critical_path: the longest dependency chain under the strategy that ran, by measured latency, the aggregate
      included; None, like concurrency, when not measured.
    """

    wall: float = 0.0
    calls_sum: float = 0.0
    concurrency: float | None = None
    critical_path: float | None = None
    critical_path_ids: tuple[str, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_estimated: bool = False
    cost: float | None = 0.0  # None when any call's price is unknown: a partial sum would read as the total
    calls: int = 0  # provider calls made (attempts, cache hits excluded)
    retries: int = 0
    throttles: int = 0
    cached: int = 0  # calls served from the cache
    cached_latency: float = 0.0  # what those calls took when they were made (recorded, not measured now)
    saved_tokens: int = 0
    failed: int = 0
    searches: int = 0  # web searches made (and billed), every call's


@dataclass(frozen=True)
class RunDone(Event):
    kind: ClassVar[str] = "run_done"
    status: str  # "ok" | "partial" (some branches failed) | "failed" | "cancelled"
    metrics: RunMetrics = field(default_factory=RunMetrics)
    error: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        PlanStarted,
        PlanDone,
        WavesDone,
        RunResumed,
        BranchAdded,
        BranchQueued,
        BranchStarted,
        BranchToken,
        BranchSearch,
        BranchSources,
        BranchRetrying,
        BranchDone,
        BranchFailed,
        AggregateStarted,
        AggregateToken,
        AggregateDone,
        BatchSubmitted,
        BatchProgress,
        RunDone,
    )
}


def _build(cls: type, data: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    for key, value in list(kwargs.items()):
        if isinstance(value, list):
            kwargs[key] = tuple(value)
    return cls(**kwargs)


def from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from `Event.to_dict()` output (e.g. a line of a session file)."""
    cls = EVENT_TYPES[data["type"]]
    data = dict(data)
    if "branches" in data:
        data["branches"] = tuple(_build(BranchInfo, b) for b in data["branches"])
    if isinstance(data.get("info"), dict):
        data["info"] = _build(BranchInfo, data["info"])
    if data.get("sources"):
        data["sources"] = tuple(_build(Source, s) for s in data["sources"])
    if data.get("citations"):
        data["citations"] = tuple(_build(Cited, c) for c in data["citations"])
    if data.get("metrics") is not None:
        metric_cls = RunMetrics if cls is RunDone else BranchMetrics
        metrics = dict(data["metrics"])
        if metric_cls is RunMetrics and "branch_sum" in metrics:  # a session from before calls_sum
            metrics.setdefault("calls_sum", metrics["branch_sum"])
        if metric_cls is RunMetrics and "speedup" in metrics:  # a session from before concurrency had its name
            metrics.setdefault("concurrency", metrics.pop("speedup"))
        data["metrics"] = _build(metric_cls, metrics)
    return _build(cls, data)


def total_cost(metrics: Iterable[BranchMetrics]) -> float | None:
    """The sum of the calls' costs, or None when any of them is unknown."""
    total = 0.0
    for m in metrics:
        if m.cost is None:
            return None
        total += m.cost
    return total
