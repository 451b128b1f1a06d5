"""The gaps and contradictions a report names: what a follow-up planner most needs to see of it.

A report is shown to the follow-up planner cut to the recipe's `context`, and reports tend to say what is still
unknown at the end: the sentences that name a gap, an open question or a contradiction are picked out of the
whole report, so they reach the planner even when the cut would leave them out.
"""

from __future__ import annotations

import re

MOST = 3  # sentences picked from one report
SENTENCE_MAX = 300  # characters of one picked sentence

_NAMES_A_GAP = re.compile(
    r"\b(?:gaps?|unknowns?|unclear|uncertain(?:ty|ties)?|unresolved|open questions?|remains? (?:to be|unclear|"
    r"unknown|open)|not (?:yet )?(?:known|clear|understood|established)|lack(?:s|ing)? (?:of )?(?:data|evidence)|"
    r"missing|little (?:data|evidence)|limited (?:data|evidence)|(?:further|more) (?:research|study|work|data)|"
    r"needs? (?:further|more)|contradict\w*|conflict(?:s|ing)?|disagree\w*|inconsisten\w*|disputed|debated)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def named_gaps(text: str, shown: int = 0) -> list[str]:
    """Up to MOST sentences of `text` that name a gap or a contradiction, in order, each on one line; those
    within its first `shown` characters (what the planner sees of the report anyway) are left out."""
    picked: list[str] = []
    for match in _SENTENCE.finditer(text):
        sentence = " ".join(match.group().split())
        if len(sentence) < 12 or not _NAMES_A_GAP.search(sentence):
            continue
        if match.end() <= shown:
            continue
        picked.append(sentence if len(sentence) <= SENTENCE_MAX else sentence[:SENTENCE_MAX].rstrip() + " [...]")
        if len(picked) == MOST:
            break
    return picked
