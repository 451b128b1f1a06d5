"""How much the branches repeated each other, and how many contradictions the synthesis flagged: the seeds'
trade-off about the output ("sequential reduces redundancy", "parallel angles discover overlapping findings").

Pure functions of the branches' texts and the aggregate's text, so a live run, a replayed session and an imported
one measure alike. The findings are what the `union` aggregator reads (JSON list items, bullet or numbered lines),
compared with the same near-duplicate rule (`strategies.voting.similar`), so "distinct" means what union means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from fanout.strategies.answers import extract_findings, normalise
from fanout.strategies.voting import fold, similar

# Above this many branches (a batch of tickets) the pairwise comparison costs more than it tells: quality is
# not measured, and says why, rather than slowing every report of a 1,000-item run.
MAX_BRANCHES = 64

_HEADING = re.compile(r"^\s*(?:#{1,6}\s*|\*\*|__)?\s*(?:\d+[.)]\s*|[IVX]+[.)]\s*)?(?:\*\*|__)?\s*(?P<title>.*?)\s*$")
_NUMBERED = re.compile(r"^\s*(?:#{1,6}\s*)?(?:\*\*)?\s*(?P<n>\d+)[.)]\s+")
_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)]|[a-z][.)])\s+\S")
# A model shown earlier reports inside fanout's markers may copy the marker lines too: they are no finding.
_MARKER = re.compile(r"^\W*<<<(?:report|end) [0-9a-f]+")
_BOLD_LEAD = re.compile(r"^(?:\*\*|__)[^*_]{1,80}(?:\*\*|__)\s*(?::|$)|^(?:\*\*|__)[^*_]{1,80}:(?:\*\*|__)")
_NONE = re.compile(r"^\s*(?:none|no\b|n/?a\b|there (?:are|were) no\b|nothing\b)", re.IGNORECASE)


@dataclass(frozen=True)
class Quality:
    findings: int  # every branch's findings, each branch's own repeats folded first
    distinct: int  # after folding near-duplicates across branches
    redundancy: float | None  # 1 - distinct / findings; None when there were no findings
    per_branch: dict[str, int] = field(default_factory=dict)  # findings of each branch that finished
    overlap: dict[str, dict[str, float | None]] = field(default_factory=dict)  # [a][b]: share of a's that b found
    contradictions: int | None = None  # items under the synthesis's contradictions heading; None: no such heading
    skipped: str = ""  # why nothing was measured, when nothing was

    def as_dict(self) -> dict[str, Any]:
        return {
            "findings": self.findings,
            "distinct": self.distinct,
            "redundancy": self.redundancy,
            "per_branch": dict(self.per_branch),
            "overlap": {a: dict(row) for a, row in self.overlap.items()},
            "contradictions": self.contradictions,
            **({"skipped": self.skipped} if self.skipped else {}),
        }


def measure(outputs: Sequence[tuple[str, str]], aggregate_text: str = "") -> Quality:
    """`outputs`: (branch id, text) of every branch that finished (failed ones have no findings to compare)."""
    contradictions = count_contradictions(aggregate_text)
    if len(outputs) > MAX_BRANCHES:
        return Quality(0, 0, None, contradictions=contradictions,
                       skipped=f"{len(outputs)} branches: overlap is measured up to {MAX_BRANCHES}")
    # A branch that says one thing twice has not repeated another branch: its own repeats fold first.
    own = {bid: [e["text"] for e in fold([(f, bid) for f in findings_of(text)])] for bid, text in outputs}
    total = sum(len(f) for f in own.values())
    folded = fold([(f, bid) for bid, fs in own.items() for f in fs])
    overlap = {
        a: {b: (_share_found(own[a], own[b]) if own[a] else None) for b in own if b != a}
        for a in own
    }
    return Quality(
        findings=total,
        distinct=len(folded),
        redundancy=round(1 - len(folded) / total, 4) if total else None,
        per_branch={bid: len(fs) for bid, fs in own.items()},
        overlap=overlap,
        contradictions=contradictions,
    )


def findings_of(text: str) -> list[str]:
    """What the union aggregator would read as findings, less copies of fanout's own report markers."""
    return [f for f in extract_findings(text) if not _MARKER.match(f)]


def _share_found(mine: Sequence[str], theirs: Sequence[str]) -> float:
    return round(sum(1 for f in mine if any(similar(f, g) for g in theirs)) / len(mine), 4)


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
