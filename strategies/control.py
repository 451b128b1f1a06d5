"""What a front end may ask of a running engine, and nothing more: front ends steer a run through this protocol
and never import the engine itself (the import contract in pyproject.toml checks it)."""

from __future__ import annotations

from typing import Protocol


class RunControl(Protocol):
    def cancel(self) -> None:
        """Stop the whole run; it still ends with its events, its session and its report."""

    def cancel_branch(self, branch_id: str) -> None:
        """Stop one branch; the others go on."""
