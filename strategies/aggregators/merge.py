"""merge: one JSON object keyed by unit (parsed JSON, a vote's verdict, an answer, or the text)."""

from __future__ import annotations

import json
from typing import Any

from ..recipe import Aggregate
from ..voting import CONFIDENT, NEEDS_REVIEW
from .base import Local
from .units import Unit


class Merge(Local):
    name = "merge"
    summary = "one JSON object keyed by branch: parsed JSON, a vote's verdict, an answer, or the text"

    def combine(self, units: list[Unit], spec: Aggregate) -> tuple[str, dict[str, Any]]:
        merged: dict[str, Any] = {}
        invalid: list[str] = []
        for u in units:
            merged[u.id], valid = _entry(u)
            if not valid:
                invalid.append(u.id)
        result = {"merged": merged, "invalid": invalid, "status": NEEDS_REVIEW if invalid else CONFIDENT}
        return "```json\n" + json.dumps(merged, indent=2, ensure_ascii=False) + "\n```", result


def _entry(u: Unit) -> tuple[Any, bool]:
    """The unit's value in the merged object, and whether it is valid (False: JSON that could not be read)."""
    p = u.members[0]
    if u.vote is not None:
        return {k: u.vote.get(k) for k in ("answer", "confidence", "status", "tally")}, True
    if p.error:
        return {"error": p.error}, True
    if "json" in p.data:
        return p.data["json"], True
    if "json_error" in p.data:
        return {"invalid_json": p.data.get("flagged") or p.data["json_error"], "text": p.text}, False
    if "answer" in p.data:
        return {"answer": p.data["answer"]}, True
    return p.text.strip(), True
