"""What a front end may ask of a running engine, and nothing more: front ends steer a run through this protocol
and never import the engine itself (the import contract in pyproject.toml checks it)."""

from __future__ import annotations

from typing import Protocol


class RunControl(Protocol):
    def cancel(self) -> None:
        """Stop the whole run; it still ends with its events, its session and its report."""

    def cancel_branch(self, branch_id: str) -> None:
        """Stop one branch; the others go on."""

    def retry_branch(self, branch_id: str) -> str:
        """Run a failed branch again while the run goes on; the branches waiting for it wait for the new try.
        Returns "" when it is queued, otherwise why it cannot be (the run is over, the branch did not fail...)."""
