"""One branch of the run: its title, status badge, streamed answer and metrics line; in a run with sources, its
searches above the answer and its numbered sources under it."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from fanout.frontends.state import BranchState, RunState
from fanout.frontends.status import Status

from .. import fmt
from ..sources_view import Shown, branch_sources_text, marked, searches_text
from .stream_pane import StreamPane


class BranchPane(StreamPane):
    def __init__(self, branch: BranchState, *, run: RunState | None = None, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane branch-pane")
        self.branch = branch
        self.run = run  # the whole run: its one numbering of the sources
        self.searches_line = Static("", classes="pane-searches", markup=False)
        self.sources_line = Static("", classes="pane-sources", markup=False)
        self._lines = ("", "")
        self._marked: str | None = None

    def compose(self):
        yield self.searches_line
        yield from super().compose()
        yield self.sources_line

    def on_mount(self) -> None:
        super().on_mount()
        self.searches_line.display = self.sources_line.display = False

    @property
    def branch_id(self) -> str:
        return self.branch.id

    @property
    def source(self) -> BranchState | Shown:
        return self.branch if self._marked is None else Shown(self.branch.chunks, self._marked)

    @property
    def ended(self) -> bool:
        return self.branch.status.over

    def header(self, now: float) -> tuple[str, Status, str, str, str]:
        b = self.branch
        self._sync_sources()
        badge = fmt.badge(b, now)
        error = b.error if b.status.unsuccessful and b.text.strip() else ""
        return fmt.lane_title(b), badge.kind, badge.label, fmt.metrics_line(b, now), error

    def placeholder(self) -> str:
        return fmt.placeholder(self.branch)

    def _sync_sources(self) -> None:
        """Searches and sources, redrawn only when they change (Static.update lays the pane out again)."""
        if self.run is None or not (self.branch.searches or self.run.sourcing.numbering.sources):
            return
        lines = (searches_text(self.branch), branch_sources_text(self.run, self.branch))
        if lines != self._lines:
            self._lines = lines
            for widget, text in zip((self.searches_line, self.sources_line), lines):
                widget.display = bool(text)
                widget.update(Content(text))
        shown = marked(self.run, self.branch)
        if shown != self._marked:  # the answer's citations as [n] (renumbered when an earlier branch found more)
            self._marked = shown
            self.restart()
