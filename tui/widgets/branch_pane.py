"""One branch of the run: its title, status badge, streamed answer and metrics line."""

from __future__ import annotations

from fanout.frontends.state import BranchState, RunState
from fanout.frontends.status import Status

from .. import fmt
from .stream_pane import StreamPane


class BranchPane(StreamPane):
    def __init__(self, branch: BranchState, state: RunState, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane branch-pane")
        self.branch = branch
        self.state = state

    @property
    def branch_id(self) -> str:
        return self.branch.id

    @property
    def source(self) -> BranchState:
        return self.branch

    @property
    def ended(self) -> bool:
        return self.branch.status.over

    def header(self, now: float) -> tuple[str, Status, str, str, str]:
        b = self.branch
        badge = fmt.badge(b, now, self.state)
        error = b.error if b.status.unsuccessful else ""  # always said, above whatever text came before it
        return b.title, badge.kind, badge.label, fmt.metrics_line(b, now), error

    def placeholder(self, now: float) -> str:
        return fmt.placeholder(self.branch, now)
