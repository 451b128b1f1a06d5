"""How much the branches repeated each other, and how many contradictions the synthesis flagged: what the
parallel-or-sequential trade-off says about the output ("sequential reduces redundancy", "parallel angles
discover overlapping findings").

Pure functions of the branches' texts and the aggregate's text, so a live run, a replayed session and an imported
one measure alike. The findings are what the `union` aggregator reads (JSON list items, bullet or numbered lines),
compared with the same near-duplicate rule (`strategies.neardup`), so "distinct" means what union means. Every size
is measured: each distinct finding is compared once, with only the pairs that could match (`neardup.Matches`).
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

from fanout.strategies.answers import extract_findings, normalise
from fanout.strategies.neardup import Matches

# Up to this many branches the overlap is a matrix, every ordered pair; above it (a batch), the most-overlapping
# pairs: a 1,000-item batch's matrix would hold a million figures.
MATRIX_UP_TO = 64
TOP_PAIRS = 20

# [a][b]: the share of a's findings that b also found (None: a had none); or, above MATRIX_UP_TO branches, the
# pairs with the highest such share, highest first: {"branch": a, "found_by": b, "share": ...}.
Overlap = dict[str, dict[str, float | None]] | list[dict[str, Any]]

_HEADING = re.compile(r"^\s*(?:#{1,6}\s*|\*\*|__)?\s*(?:\d+[.)]\s*|[IVX]+[.)]\s*)?(?:\*\*|__)?\s*(?P<title>.*?)\s*$")
_NUMBERED = re.compile(r"^\s*(?:#{1,6}\s*)?(?:\*\*)?\s*(?P<n>\d+)[.)]\s+")
_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)]|[a-z][.)])\s+\S")
# A model shown earlier reports inside fanout's markers may copy the marker lines too: they are no finding.
_MARKER = re.compile(r"^\W*<<<(?:report|source|end) [0-9a-f]+")
_BOLD_LEAD = re.compile(r"^(?:\*\*|__)[^*_]{1,80}(?:\*\*|__)\s*(?::|$)|^(?:\*\*|__)[^*_]{1,80}:(?:\*\*|__)")
_NONE = re.compile(r"^\s*(?:none|no\b|n/?a\b|there (?:are|were) no\b|nothing\b)", re.IGNORECASE)


@dataclass(frozen=True)
class Quality:
    findings: int  # every branch's findings, each branch's own repeats folded first
    distinct: int  # after folding near-duplicates across branches
    redundancy: float | None  # 1 - distinct / findings; None when there were no findings
    per_branch: dict[str, int] = field(default_factory=dict)  # findings of each branch that finished
    overlap: Overlap = field(default_factory=dict)
    contradictions: int | None = None  # items under the synthesis's contradictions heading; None: no such heading
    # The sources' view (frontends/sourcing.py): distinct sources, the share of them two or more branches read, and
    # the citations checked: {"cited", "verified", "unverified": [n, ...]}.
    sources: int = 0
    shared_sources: float | None = None
    citations: dict[str, Any] = field(default_factory=lambda: {"cited": 0, "verified": 0, "unverified": []})

    def as_dict(self) -> dict[str, Any]:
        return {
            "findings": self.findings,
            "distinct": self.distinct,
            "redundancy": self.redundancy,
            "per_branch": dict(self.per_branch),
            "overlap": ([dict(p) for p in self.overlap] if isinstance(self.overlap, list)
                        else {a: dict(row) for a, row in self.overlap.items()}),
            "contradictions": self.contradictions,
            "sources": self.sources,
            "shared_sources": self.shared_sources,
            "citations": {**self.citations, "unverified": list(self.citations["unverified"])},
        }


def measure(outputs: Sequence[tuple[str, str]], aggregate_text: str = "") -> Quality:
    """`outputs`: (branch id, text) of every branch that finished (failed ones have no findings to compare)."""
    found = {bid: findings_of(text) for bid, text in outputs}
    matches = Matches(f for fs in found.values() for f in fs)
    # A branch that says one thing twice has not repeated another branch: its own repeats fold first.
    own = {bid: [e["text"] for e in matches.fold([(f, bid) for f in fs])] for bid, fs in found.items()}
    total = sum(len(f) for f in own.values())
    folded = matches.fold([(f, bid) for bid, fs in own.items() for f in fs])
    keys = {bid: [matches.key(f) for f in fs] for bid, fs in own.items()}
    return Quality(
        findings=total,
        distinct=len(folded),
        redundancy=round(1 - len(folded) / total, 4) if total else None,
        per_branch={bid: len(fs) for bid, fs in own.items()},
        overlap=_matrix(keys, matches) if len(keys) <= MATRIX_UP_TO else _top_pairs(keys, matches, TOP_PAIRS),
        contradictions=count_contradictions(aggregate_text),
    )


def findings_of(text: str) -> list[str]:
    """What the union aggregator would read as findings, less copies of fanout's own report markers."""
    return [f for f in extract_findings(text) if not _MARKER.match(f)]


def top_pairs(overlap: Overlap, limit: int = TOP_PAIRS) -> list[dict[str, Any]]:
    """The most-overlapping pairs of either form: a batch's as measured, a matrix's ranked the same way (highest
    share first, then branch order; never a pair that shares nothing)."""
    if isinstance(overlap, list):
        return overlap[:limit]
    order = {bid: i for i, bid in enumerate(overlap)}
    ranked = sorted(((share, a, b) for a, row in overlap.items() for b, share in row.items() if share),
                    key=lambda p: (-p[0], order[p[1]], order[p[2]]))
    return [{"branch": a, "found_by": b, "share": share} for share, a, b in ranked[:limit]]


def _found_by(keys: dict[str, list[int | None]], matches: Matches) -> dict[int, set[str]]:
    """Each finding's key -> the branches that found it or a near-duplicate of it (an empty finding: nobody)."""
    holders: dict[int, set[str]] = defaultdict(set)
    for bid, ks in keys.items():
        for k in ks:
            if k is not None:
                holders[k].add(bid)
    return {k: set().union(*(holders[j] for j in matches.alike(k) if j in holders)) for k in holders}


def _matrix(keys: dict[str, list[int | None]], matches: Matches) -> dict[str, dict[str, float | None]]:
    found_by = _found_by(keys, matches)

    def share(a: str, b: str) -> float | None:
        mine = keys[a]
        return round(sum(1 for k in mine if k is not None and b in found_by[k]) / len(mine), 4) if mine else None

    return {a: {b: share(a, b) for b in keys if b != a} for a in keys}


def _top_pairs(keys: dict[str, list[int | None]], matches: Matches, limit: int) -> list[dict[str, Any]]:
    """The `limit` ordered pairs (a, b) with the highest share of a's findings that b found, highest first, then in
    branch order; never a pair that shares nothing."""
    found_by = _found_by(keys, matches)
    column = {bid: i for i, bid in enumerate(keys)}
    kept: list[tuple[float, int, int]] = []  # (share, -a, -b): a heap whose first is the worst kept so far
    for a, (bid, mine) in enumerate(keys.items()):
        if len(kept) == limit and (1.0, -a, 0) <= kept[0]:
            break  # nothing later can rank above what is kept: ties go to the earlier branch
        counts: Counter[str] = Counter()
        for k in mine:
            if k is not None:
                counts.update(found_by[k])
        counts.pop(bid, None)
        for other, n in counts.items():
            pair = (n / len(mine), -a, -column[other])
            if len(kept) < limit:
                heapq.heappush(kept, pair)
            elif pair > kept[0]:
                heapq.heapreplace(kept, pair)
    ids = list(keys)
    return [{"branch": ids[-a], "found_by": ids[-b], "share": round(share, 4)}
            for share, a, b in sorted(kept, reverse=True)]


def count_contradictions(text: str) -> int | None:
    """The items the synthesis listed under a heading about contradictions (the research recipes ask for one):
    its bullet or numbered lines, else its paragraphs; 0 when it says there are none; None without such a heading.

    A heading is a line that mentions contradictions and is short, a Markdown heading, bold, numbered or ends
    with a colon; the section ends at the next heading of that kind (a numbered one after a numbered one)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "contradict" in line.lower() and _is_heading(line):
            number = _NUMBERED.match(line)
            return _count_items(lines[i + 1:], number=int(number.group("n")) if number else None,
                                inline=_after_colon(line))
    return None


def _is_heading(line: str) -> bool:
    s = line.strip()
    return (s.startswith("#") or s.startswith("**") or s.endswith(":") or s.endswith("**")
            or _NUMBERED.match(s) is not None or len(s.split()) <= 6) and len(s) <= 100


def _after_colon(line: str) -> str:
    """Text on the heading's own line after its colon ("Contradictions: none")."""
    title = _HEADING.match(line).group("title").strip("*_ ")
    head, sep, rest = title.partition(":")
    return rest.strip(" *_") if sep else ""


def _ends_section(line: str, number: int | None) -> bool:
    s = line.strip()
    if s.startswith("#") or _BOLD_LEAD.match(s):
        return True
    # Under "3. Contradictions", "4. What is missing" ends the section; its own items "1." and "2." do not.
    m = _NUMBERED.match(line)
    return number is not None and m is not None and not line.startswith((" ", "\t")) and int(m.group("n")) > number


def _count_items(rest: Sequence[str], *, number: int | None, inline: str) -> int:
    section: list[str] = []
    for line in rest:
        if _ends_section(line, number):
            break
        section.append(line)
    items = [line for line in section if _ITEM.match(line)]
    if items:
        return sum(1 for line in items if not _NONE.match(_strip_marker(line)))
    paragraphs = [p for p in "\n".join(section).split("\n\n") if normalise(p)]
    if inline:
        paragraphs.insert(0, inline)
    return sum(1 for p in paragraphs if not _NONE.match(p.strip()))


def _strip_marker(line: str) -> str:
    return re.sub(r"^\s*(?:[-*•]|\d+[.)]|[a-z][.)])\s+", "", line)
