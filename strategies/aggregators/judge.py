"""judge: one LLM call that picks the best unit and says why."""

from __future__ import annotations

import re
from typing import Any

from ..prompting import Prior
from ..voting import CONFIDENT, NEEDS_REVIEW
from .base import Context
from .model import ModelAggregator
from .units import Unit

_WINNER = re.compile(r"winner\s*(?:is)?\s*[:#-]?\s*(?:candidate\s*)?(\d+)", re.IGNORECASE)


class Judge(ModelAggregator):
    name = "judge"
    summary = "one LLM call that picks the best result and says why"
    judge = True

    def priors(self, ctx: Context, candidates: list[Unit]) -> list[Prior]:
        """The candidates, numbered (with their marked citations and sources, in a run with sources)."""
        return [Prior(u.id, f"Candidate {i + 1}: {u.title}", self.grounded(ctx, u).body())
                for i, u in enumerate(candidates)]

    def verdict(self, text: str, candidates: list[Unit]) -> dict[str, Any]:
        m = _WINNER.search(text) or re.search(r"\b(\d+)\b", text)
        choice = int(m.group(1)) if m else 0
        if m is None or not 1 <= choice <= len(candidates):
            return {"winner": None, "status": NEEDS_REVIEW, "reason": text.strip()}
        winner = candidates[choice - 1]
        return {"winner": winner.id, "winner_title": winner.title, "choice": choice,
                "winner_text": winner.members[0].text, "reason": text[m.end():].strip(" .:\n"), "status": CONFIDENT}
