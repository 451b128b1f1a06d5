"""Findings as many branches word them: a few facts, each reworded the ways models do (case and punctuation,
neighbouring words swapped, a word dropped, a letter doubled), among findings of their own; and the near-duplicate
rule applied pair by pair, the plain quadratic way, to check the bulk comparison against."""

from __future__ import annotations

import random
import string
from typing import Any, Sequence

from fanout.strategies.neardup import similar

FACTS = [
    "IBM reached 1,121 qubits on its Condor processor",
    "Error rates fell below 0.1 % on two-qubit gates",
    "Google showed error correction below the threshold",
    "Venture funding reached $1.2 billion in 2025",
    "Banks pilot quantum risk models for portfolios",
    "Cloud access drives most of the sector's revenue",
    "NIST published the first post-quantum standards",
    "Photonic machines scale differently from superconducting ones",
    "Neutral atom arrays passed one thousand atoms",
    "Logical qubits outlived their physical qubits",
]


def reword(fact: str, rng: random.Random) -> str:
    words = fact.split()
    how = rng.randrange(5)
    if how == 0:
        return fact.upper() + "."
    if how == 1:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    elif how == 2:
        del words[rng.randrange(len(words))]
    elif how == 3:
        i = rng.randrange(len(words))
        words[i] = words[i] + words[i][-1]
    return " ".join(words)


def own_finding(rng: random.Random) -> str:
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(rng.randint(4, 9)))


def batch(branches: int, seed: int = 7) -> list[tuple[str, str]]:
    """(branch id, text): each branch two reworded facts and one finding of its own, as bullet lines."""
    rng = random.Random(seed)
    out = []
    for i in range(branches):
        lines = [reword(f, rng) for f in rng.sample(FACTS, 2)] + [own_finding(rng)]
        rng.shuffle(lines)
        out.append((f"t{i:04d}", "\n".join(f"- {line}" for line in lines)))
    return out


def fold_pairwise(findings: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The fold as it was written first: each finding against every entry so far, the first alike one wins."""
    folded: list[dict[str, Any]] = []
    for text, who in findings:
        for entry in folded:
            if similar(entry["text"], text):
                if who not in entry["found_by"]:
                    entry["found_by"].append(who)
                break
        else:
            folded.append({"text": text, "found_by": [who]})
    return folded
