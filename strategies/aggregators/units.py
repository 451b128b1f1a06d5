"""What an aggregator combines: the branches' results as units.

A voting branch's voters are one unit (with its vote); every other branch is a unit of its own. Every
aggregator's result also carries `extras`: the votes, and per-item results of a batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..answers import extract_findings
from ..prompting import Prior
from ..recipe import Recipe
from ..voting import Ballot, vote


@dataclass
class Unit:
    id: str
    title: str
    members: list[Prior] = field(default_factory=list)
    vote: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return all(p.error for p in self.members)

    @property
    def answer(self) -> Any:
        if self.vote is not None:
            return self.vote.get("answer")
        return self.members[0].data.get("answer")

    def body(self) -> str:
        if self.vote is not None:
            return describe_vote(self.vote)
        p = self.members[0]
        if p.error:
            return f"_This branch failed: {p.error}_"
        text = p.text.strip()
        if p.data.get("answer") is not None:
            text += f"\n\n**Answer:** {p.data['answer']}"
        elif "answer" in p.data:
            text += "\n\n**Answer:** _unreadable_"
        return text


def describe_vote(v: dict[str, Any]) -> str:
    if v["method"] == "union":
        return finding_lines(v["findings"])
    tally = ", ".join(f"{a} {w:g}" for a, w in v["tally"].items()) or "none"
    extra = "".join(
        f"; {name}: {', '.join(v[name])}" for name in ("abstained", "failed") if v.get(name)
    )
    answer = v["answer"] if v["answer"] is not None else "none"
    return f"**Voted answer: {answer}** ({v['status']}, confidence {v['confidence']:.0%}; tally: {tally}{extra})"


def finding_lines(findings: list[dict[str, Any]]) -> str:
    """Folded findings as a Markdown list, each with the branches that found it."""
    lines = [f"- {f['text']} (found by {', '.join(f['found_by'])})" for f in findings]
    return "\n".join(lines) or "_no findings_"


def build_units(recipe: Recipe, priors: list[Prior]) -> list[Unit]:
    by_id = {p.id: p for p in priors}
    units: list[Unit] = []
    groups: dict[str, Unit] = {}
    for b in recipe.branches:
        prior = by_id[b.id]
        if b.group and b.group in recipe.votes:
            unit = groups.get(b.group)
            if unit is None:
                unit = groups[b.group] = Unit(b.group, b.group_title or b.group)
                units.append(unit)
            unit.members.append(prior)
        else:
            units.append(Unit(b.id, b.title, [prior]))
    weights = {b.id: b.weight for b in recipe.branches}
    for unit in units:
        spec = recipe.votes.get(unit.id)
        if spec is None or unit.id not in groups:
            continue
        ballots = [
            Ballot(
                p.id,
                p.data.get("answer"),
                weights.get(p.id, 1.0),
                failed=bool(p.error),
                findings=tuple(extract_findings(p.text)) if spec.method == "union" and not p.error else (),
            )
            for p in unit.members
        ]
        unit.vote = vote(ballots, spec.method, spec.threshold)
    return units


def extras(recipe: Recipe, units: list[Unit]) -> dict[str, Any]:
    """What every result carries besides its kind's own verdict: the votes, and per-item batch results."""
    out: dict[str, Any] = {}
    votes = {u.id: u.vote for u in units if u.vote is not None}
    if votes:
        out["votes"] = votes
    items = {b.id: b for b in recipe.branches if b.item is not None}
    if items:
        per_item = {}
        for u in units:
            b = items.get(u.id)
            if b is not None:
                p = u.members[0]
                per_item[u.id] = {"item": b.item, "answer": p.data.get("answer"), "error": p.error or None}
        out["items"] = per_item
        answers = [v["answer"] for v in per_item.values() if v["answer"] is not None]
        if answers:
            out["counts"] = dict(Counter(answers).most_common())
    return out
