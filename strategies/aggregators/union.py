"""union: every finding of every branch, near-duplicates folded, each with the branches that found it."""

from __future__ import annotations

from typing import Any

from ..answers import extract_findings
from ..recipe import Aggregate
from ..voting import Ballot, union
from .base import Local
from .units import Unit, finding_lines


class Union(Local):
    name = "union"
    summary = "every finding of every branch, near-duplicates folded, with the branches that found it"

    def combine(self, units: list[Unit], spec: Aggregate) -> tuple[str, dict[str, Any]]:
        ballots = [
            Ballot(p.id, None, failed=bool(p.error), findings=tuple(extract_findings(p.text)))
            for u in units
            for p in u.members
        ]
        result = union(ballots)
        return finding_lines(result["findings"]), result
