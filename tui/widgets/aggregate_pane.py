"""The aggregator: the synthesis streaming as Markdown, or a vote's tally; the branches it had to leave out."""

from __future__ import annotations

import re

from textual.content import Content
from textual.widgets import Static

from fanout.core.text import strip_controls
from fanout.frontends.report import fmt_cost, fmt_seconds
from fanout.frontends.state import DONE, FAILED, QUEUED, STREAMING, WAITING, AggregateState, RunState
from fanout.frontends.status import Status

from ..sources_view import run_sources_text
from .. import fmt
from .stream_pane import StreamPane, line_rows
from .vote_tally import VoteTally, has_votes


def left_out(state: RunState) -> str:
    """Failed branches are named, never silently dropped; those that failed alike are named together, their
    reason said once ("hardware, software: cannot connect to ...; security: skipped (hardware failed)")."""
    failed = list(state.aggregate.failed) or [b.id for b in state.branch_list() if b.status.unsuccessful]
    if not failed:
        return ""
    why: dict[str, list[str]] = {}
    for bid in failed:
        b = state.branches.get(bid)
        if b is None or not b.status.unsuccessful:
            reason = ""
        elif fmt.never_ran(b):
            reason = fmt.badge(b, state.now, state).label
        else:
            reason = f"{b.status}: {b.error}" if b.error else str(b.status)
        why.setdefault(reason, []).append(bid)
    return "left out: " + "; ".join(", ".join(ids) + (f" ({reason})" if reason else "") for reason, ids in why.items())


def flag_label(flag: str) -> str:
    """A flag's badge: its kind and figure ("flagged: echo 93%"), the whole sentence going on the line below."""
    m = re.match(r"(\w+): (\d+%)?", flag)
    return "flagged: " + " ".join(g for g in m.groups() if g) if m else "flagged"


class AggregatePane(StreamPane):
    def __init__(self, state: RunState, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane aggregate-pane")
        self.state = state
        self.tally = VoteTally(classes="pane-tally")
        self.failed_line = Static("", classes="pane-left-out", markup=False)
        self.flag_line = Static("", classes="pane-left-out", markup=False)
        self.sources_line = Static("", classes="pane-sources", markup=False)
        self._missing = self._flag = self._sources = ""

    def compose(self):
        yield self.flag_line
        yield self.failed_line
        yield self.tally
        yield from super().compose()
        yield self.sources_line

    def on_mount(self) -> None:
        super().on_mount()
        self.tally.display = False
        self.failed_line.display = False
        self.flag_line.display = False
        self.sources_line.display = False

    @property
    def agg(self) -> AggregateState:
        return self.state.aggregate

    @property
    def source(self) -> AggregateState:
        return self.agg

    @property
    def ended(self) -> bool:
        return self.agg.status in (DONE, FAILED) or (self.state.done is not None and self.agg.status == WAITING)

    @property
    def prefers_markdown(self) -> bool:
        return True

    def header(self, now: float) -> tuple[str, Status, str, str, str]:
        a = self.agg
        method = a.method or "aggregate"
        kind, label = a.status, str(a.status)
        if a.status == WAITING:
            label = "waiting for the branches"
        elif a.status == STREAMING and not a.chunks:
            kind, label = Status.AWAITING, "awaiting first token"
        elif a.status == FAILED and a.error:
            label = fmt.cause(a.error)
        if self.state.done is not None and a.status == WAITING:
            kind, label = Status.SKIPPED, f"not run (run {self.state.done.status})"
        if a.flag:  # done, but an echo of its prompt or empty: never a plain "done"
            kind, label = Status.FLAGGED, flag_label(a.flag)
        m = a.metrics
        metrics = (
            f"{m.output_tokens} tok · ttft {fmt_seconds(m.ttft)} · {fmt_seconds(m.latency)} · {fmt_cost(m.cost)}"
            if m else ""
        )
        self._sync_extras()
        return f"aggregate · {method}", kind, label, metrics, a.error

    def extra_rows(self, width: int) -> int:
        rows = super().extra_rows(width)
        if self.failed_line.display:
            rows += len(Content(self._missing).wrap(width))
        if self.tally.display:
            rows += len(self.tally.render().wrap(width)) + 1  # its margin
        return rows + line_rows(self.flag_line, self._flag, width) + line_rows(self.sources_line, self._sources, width)

    def placeholder(self, now: float) -> str:
        if self.state.done is not None and self.state.done.error:
            return self.state.done.error
        if self.agg.status == WAITING:
            return "the aggregator starts when the branches are done"
        return "waiting for the first token" if self.agg.status in (QUEUED, STREAMING) and not self.agg.chunks else ""

    def _sync_extras(self) -> None:
        result = self.agg.result
        is_vote = has_votes(result)
        if is_vote and self.tally.result != result:
            self.tally.show(result)
        if self.tally.display != is_vote:
            self.tally.display = is_vote
        missing = left_out(self.state)
        if missing != self._missing:  # Static.update relayouts: only on change
            self._missing = missing
            self.failed_line.display = bool(missing)
            self.failed_line.update(Content(missing))
        flag = self.agg.flag
        if flag != self._flag:
            self._flag = flag
            self.flag_line.display = bool(flag)
            self.flag_line.update(Content(strip_controls(flag)))
        sources = run_sources_text(self.state)
        if sources != self._sources:
            self._sources = sources
            self.sources_line.display = bool(sources)
            self.sources_line.update(Content(sources))
