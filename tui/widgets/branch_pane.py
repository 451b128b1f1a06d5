"""One branch of the run: its title, status badge, streamed answer and metrics line; in a run with sources, its
searches above the answer and its numbered sources under it."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from fanout.frontends.state import BranchState, RunState
from fanout.frontends.status import Status

from .. import fmt
from ..sources_view import Shown, branch_sources_text, marked, searches_text
from .stream_pane import StreamPane, line_rows


class BranchPane(StreamPane):
    def __init__(self, branch: BranchState, state: RunState, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane branch-pane")
        self.branch = branch
        self.state = state  # the whole run: its one numbering of the sources
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
        badge = fmt.badge(b, now, self.state)
        error = b.error if b.status.unsuccessful else ""  # always said, above whatever text came before it
        return fmt.lane_title(b), badge.kind, badge.label, fmt.metrics_line(b, now), error

    def placeholder(self, now: float) -> str:
        return fmt.placeholder(self.branch, now)

    def extra_rows(self, width: int) -> int:
        searches, sources = self._lines
        return (super().extra_rows(width) + line_rows(self.searches_line, searches, width)
                + line_rows(self.sources_line, sources, width))

    def _sync_sources(self) -> None:
        """Searches and sources, redrawn only when they change (Static.update lays the pane out again)."""
        if not (self.branch.searches or self.state.sourcing.numbering.sources):
            return
        lines = (searches_text(self.branch), branch_sources_text(self.state, self.branch))
        if lines != self._lines:
            self._lines = lines
            for widget, text in zip((self.searches_line, self.sources_line), lines):
                widget.display = bool(text)
                widget.update(Content(text))
        shown = marked(self.state, self.branch)
        if shown != self._marked:  # the answer's citations as [n] (renumbered when an earlier branch found more)
            self._marked = shown
            self.restart()
