"""vote: the votes' verdicts (answer, confidence, tally, status)."""

from __future__ import annotations

from typing import Any

from ..recipe import Aggregate, Branch
from ..voting import CONFIDENT, NEEDS_REVIEW, NO_CONSENSUS
from .base import Local
from .units import Unit, describe_vote

_SEVERITY = [CONFIDENT, NEEDS_REVIEW, NO_CONSENSUS]


class Vote(Local):
    name = "vote"
    summary = "the votes' verdicts: answer, confidence, tally and status"

    def check(self, aggregate: Aggregate, branches: list[Branch]) -> tuple[str, str] | None:
        if not any(b.vote for b in branches):
            return "aggregate.kind", "\"vote\" needs a [vote] table or a branch with `vote`"
        return None

    def combine(self, units: list[Unit], spec: Aggregate) -> tuple[str, dict[str, Any]]:
        voted = [u for u in units if u.vote is not None]
        votes = {u.id: u.vote for u in voted}
        if len(voted) == 1:
            return describe_vote(voted[0].vote), dict(voted[0].vote)  # type: ignore[arg-type]
        text = "\n\n".join(f"## {u.title}\n\n{describe_vote(u.vote)}" for u in voted)  # type: ignore[arg-type]
        worst = max((_SEVERITY.index(v["status"]) for v in votes.values() if v["status"] in _SEVERITY), default=0)
        return text, {"votes": votes, "status": _SEVERITY[worst]}
