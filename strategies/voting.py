"""Voting: the same task asked of several voters, and one verdict with a confidence.

Every method returns the same shape: answer, confidence (the agreement ratio), tally, status, plus who voted
what. The rules, documented once here and in the README:
- Every voter counts in the denominator: one that abstained (its answer could not be read) or failed lowers the
  confidence, it is never silently dropped. confidence = the winner's weight / the total weight of all voters.
- Tie rule: when two or more answers share the highest weight there is no winner: answer is null and the status
  is "no consensus". No voter's position in the list breaks a tie.
- majority: the answer with the most weight; "confident" when it holds more than half of all weight,
  "needs review" otherwise.
- unanimous: "confident" only when every voter gave the same answer; anything else escalates as "needs review"
  (the leading answer is still reported).
- weighted: majority with each voter's weight (default 1).
- threshold: "confident" when the leading answer's share reaches the threshold (e.g. 0.7), else "needs review".
- union: not one answer but every finding any voter made, near-duplicates folded, each with the voters that
  found it; confidence is the mean share of voters behind a finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .neardup import fold, similar  # noqa: F401  (similar: the rule union folds by, also read from here)

CONFIDENT, NEEDS_REVIEW, NO_CONSENSUS = "confident", "needs review", "no consensus"


@dataclass(frozen=True)
class Ballot:
    voter: str  # branch id
    answer: str | None  # None: abstained (unreadable answer)
    weight: float = 1.0
    failed: bool = False  # the call itself failed
    findings: tuple[str, ...] = ()  # for union


def vote(ballots: Sequence[Ballot], method: str = "majority", threshold: float = 0.5) -> dict[str, Any]:
    if method == "union":
        return union(ballots)
    total = sum(b.weight for b in ballots)
    tally: dict[str, float] = {}
    for b in ballots:
        if b.answer is not None and not b.failed:
            tally[b.answer] = tally.get(b.answer, 0.0) + (b.weight if method == "weighted" else 1.0)
    if method != "weighted":
        total = float(len(ballots))
    result: dict[str, Any] = {
        "method": method,
        "tally": dict(sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))),
        "voters": {b.voter: ("failed" if b.failed else b.answer) for b in ballots},
        "abstained": [b.voter for b in ballots if b.answer is None and not b.failed],
        "failed": [b.voter for b in ballots if b.failed],
    }
    if method == "threshold":
        result["threshold"] = threshold
    top = max(tally.values(), default=0.0)
    leaders = [a for a, w in tally.items() if w == top]
    if not tally or len(leaders) > 1:
        return {**result, "answer": None, "confidence": round(top / total, 4) if total else 0.0, "status": NO_CONSENSUS}
    answer = leaders[0]
    confidence = top / total if total else 0.0
    if method == "unanimous":
        status = CONFIDENT if confidence == 1.0 else NEEDS_REVIEW
    elif method == "threshold":
        status = CONFIDENT if confidence >= threshold - 1e-9 else NEEDS_REVIEW
    else:
        status = CONFIDENT if confidence > 0.5 else NEEDS_REVIEW
    return {**result, "answer": answer, "confidence": round(confidence, 4), "status": status}


def union(ballots: Sequence[Ballot]) -> dict[str, Any]:
    voters = [b for b in ballots]
    folded = fold([(f, b.voter) for b in voters if not b.failed for f in b.findings])
    n = len(voters) or 1
    for entry in folded:
        entry["support"] = round(len(entry["found_by"]) / n, 4)
    folded.sort(key=lambda e: -e["support"])
    confidence = sum(e["support"] for e in folded) / len(folded) if folded else 0.0
    return {
        "method": "union",
        "answer": [e["text"] for e in folded],
        "findings": folded,
        "confidence": round(confidence, 4),
        "tally": {e["text"]: len(e["found_by"]) for e in folded},
        "voters": {b.voter: ("failed" if b.failed else len(b.findings)) for b in voters},
        "abstained": [b.voter for b in voters if not b.failed and not b.findings],
        "failed": [b.voter for b in voters if b.failed],
        "status": CONFIDENT if folded else NO_CONSENSUS,
    }
