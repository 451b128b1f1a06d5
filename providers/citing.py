"""A grounded answer's form on the embedded model: findings, one a line, each opening with the number of a passage
the prompt gave it.

Given numbered passages of the user's files and asked to cite them, SmolLM2-135M wrote no `[n]` in deep-research's
branches (0 verified citations of 6 branches). A grammar holds the form — `- [n] finding` — and allows only the
numbers the prompt gave. Which passage a finding names, and whether that passage says it, stays the model's
choice: the run checks that the number was given (a verified citation), not that the claim is true.
"""

from __future__ import annotations

from typing import Sequence

MIN_FINDINGS = 2
MAX_FINDINGS = 6
# A finding's characters: one line, no bracket (the only brackets are its citations), no '<' (no fence marker)
FINDING_CHARS = (20, 300)


def citing_grammar(numbers: Sequence[int]) -> str:
    """GBNF for 2-6 findings, each `- [n] text` on its own line, n among `numbers`. The number comes first: the
    model chooses its passage, then writes the finding and ends the line where it would (a number required at the
    end of a line forced a small model that wanted to end it into unlikely tokens)."""
    if not numbers:
        raise ValueError("a citing grammar needs at least one source number")
    low, high = FINDING_CHARS
    return "\n".join([
        f"root ::= finding{{{MIN_FINDINGS},{MAX_FINDINGS}}}",
        'finding ::= "- " cite " " claim "\\n"',
        f"claim ::= [^\\n\\[\\]<>]{{{low},{high}}}",
        'cite ::= "[" source "]"',
        "source ::= " + " | ".join(f'"{n}"' for n in sorted(set(numbers))),
    ])
