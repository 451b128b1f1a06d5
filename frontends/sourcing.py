"""A run's sources and citations as the front ends show them: the branches' sources numbered once, every citation
checked, each finished answer with its web citations as `[n]`. A pure function of the fold's branch states and
aggregate (strategies/citations.py does the numbering and the checking: the engine shows the aggregate the same
numbers), called by `RunState.sourcing` only when what it rests on has changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Sequence

from fanout.strategies.citations import (CITES, Checked, Grounded, Numbering, aggregate_citations,
                                         branch_citations, marked_text, number_sources)

from .quality import Quality
from .status import Status

if TYPE_CHECKING:
    from .state import AggregateState, BranchState

@dataclass(frozen=True)
class Sourcing:
    numbering: Numbering = field(default_factory=Numbering)
    citations: dict[str, list[Checked]] = field(default_factory=dict)  # each finished branch's
    aggregate: list[Checked] | None = None  # the aggregate's `[n]`, each once; None: it was not asked to cite
    marked: dict[str, str] = field(default_factory=dict)  # each finished branch's answer, web citations as [n]

    @property
    def unverified(self) -> list[int]:
        """The aggregate's citations that rest on nothing a branch read."""
        return [c.n for c in self.aggregate or () if not c.verified]

    def text_of(self, branch: BranchState) -> str:
        return self.marked.get(branch.id, branch.text)


def grounded(b: BranchState) -> Grounded:
    done = b.status == Status.DONE
    return Grounded(b.id, b.given, b.received if done else (), b.cited if done else ())


def sourcing(branches: Sequence[BranchState], aggregate: AggregateState) -> Sourcing:
    """`branches` in the run's order (the aggregate's reduce steps left out: they read nothing of their own)."""
    material = [grounded(b) for b in branches]
    numbering = number_sources(material)
    if not numbering.sources:
        return Sourcing(numbering)
    done = [(b, m) for b, m in zip(branches, material) if b.status == Status.DONE]
    checked = {b.id: branch_citations(m, b.text, numbering) for b, m in done}
    marked = {b.id: marked_text(b.text, b.cited, numbering) for b, _ in done if b.cited}
    asked = aggregate.status == Status.DONE and aggregate.result.get(CITES)
    return Sourcing(numbering, checked, aggregate_citations(aggregate.text, numbering) if asked else None, marked)


def source_quality(q: Quality, s: Sourcing) -> Quality:
    """The quality figures with the sources' view: the aggregate's citations when it was asked to cite, else the
    branches'."""
    sources = s.numbering.sources
    if not sources:
        return q
    readers: dict[int, int] = {}
    for numbers in s.numbering.read.values():
        for n in numbers:
            readers[n] = readers.get(n, 0) + 1
    cites = s.aggregate if s.aggregate is not None else [c for cs in s.citations.values() for c in cs]
    citations: dict[str, Any] = {
        "cited": len(cites),
        "verified": sum(1 for c in cites if c.verified),
        "unverified": sorted({c.n for c in cites if not c.verified}),
    }
    shared = sum(1 for n in readers.values() if n >= 2) / len(sources)
    return replace(q, sources=len(sources), shared_sources=round(shared, 4), citations=citations)
