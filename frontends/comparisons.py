"""Comparisons kept in the sessions: the runs of one comparison (`m` in the app) share an id in their headers, so
the history lists them as one group with its verdict, and the compare screen opens again from the sessions alone,
read back from disk: no call is made."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable

from fanout.stores.sessions import Summary, list_sessions, load
from fanout.strategies.recipe import STRATEGIES

from .compare import Row, headline
from .state import RunState

UNFINISHED = ("cancelled", "incomplete", "running", "pending")  # as in the app: such a run stops a comparison


@dataclass
class Group:
    """One comparison's sessions in the order they ran: its plan (a planned recipe's, made once), then each
    strategy's run."""

    id: str
    runs: list[Summary]

    @property
    def strategy_runs(self) -> list[Summary]:
        return [s for s in self.runs if not s.plan_only]

    @property
    def newest(self) -> float:
        return max(s.created for s in self.runs)

    @property
    def complete(self) -> bool:
        """Every strategy ran to its end (a failed branch still counts: its run is compared as it ended)."""
        ran = [s for s in self.strategy_runs if s.status not in UNFINISHED]
        return sorted(s.strategy for s in ran) == sorted(STRATEGIES)

    @property
    def status(self) -> str:
        if not self.complete:
            return "incomplete"
        return "ok" if all(s.status == "ok" for s in self.runs) else "partial"

    def summary(self) -> Summary:
        """The comparison's own line: its runs' wall, tokens and cost added up (none when a run lacks it)."""
        first = self.runs[0]

        def total(values: list) -> Any:
            return None if any(v is None for v in values) else sum(values)

        return replace(first, id=self.id, strategy="compare", status=self.status,
                       branches=(self.strategy_runs or self.runs)[0].branches,
                       wall=total([s.wall for s in self.runs]), tokens=total([s.tokens for s in self.runs]),
                       cost=total([s.cost for s in self.runs]))


Entry = Summary | Group


def grouped(summaries: Iterable[Summary]) -> list[Entry]:
    """Newest first, as `list_sessions` gives them; a comparison's runs as one group where its newest run was.
    A session without a comparison (every session from before comparisons were kept) is an entry of its own."""
    entries: list[Entry] = []
    groups: dict[str, Group] = {}
    for s in summaries:
        if not s.comparison:
            entries.append(s)
        elif s.comparison in groups:
            groups[s.comparison].runs.insert(0, s)
        else:
            groups[s.comparison] = Group(s.comparison, [s])
            entries.append(groups[s.comparison])
    return entries


def find(comparison: str) -> Group | None:
    return next((e for e in grouped(list_sessions()) if isinstance(e, Group) and e.id == comparison), None)


def states(group: Group) -> list[RunState]:
    """Each strategy's run as the compare screen draws it, folded from its session."""
    return [RunState.from_events(load(s.id).events, ended=True) for s in group.strategy_runs]


def verdict(group: Group) -> str:
    """The compare screen's headline, or why there is none."""
    if not group.complete:
        ran = sorted({s.strategy for s in group.strategy_runs if s.status not in UNFINISHED})
        return f"none, {len(ran)} of {len(STRATEGIES)} strategies ran to their end"
    return headline([Row.of(state) for state in states(group)])
