"""checks: each unit's answer against `fail_on`; the input is flagged when any check fails."""

from __future__ import annotations

from typing import Any

from ..answers import normalise
from ..recipe import Aggregate, Branch
from ..voting import CONFIDENT, NEEDS_REVIEW
from .base import Local
from .units import Unit


class Checks(Local):
    name = "checks"
    summary = "each branch's answer checked against `fail_on`: the input is flagged when any check fails"

    def check(self, aggregate: Aggregate, branches: list[Branch]) -> tuple[str, str] | None:
        if not aggregate.fail_on:
            return "aggregate.fail_on", "is required when kind is \"checks\" (the answers that flag the input)"
        return None

    def combine(self, units: list[Unit], spec: Aggregate) -> tuple[str, dict[str, Any]]:
        failing = {normalise(f) for f in spec.fail_on}
        checks: dict[str, Any] = {}
        issues = []
        unreadable = []
        for u in units:
            checks[u.id] = _entry(u)
            if u.answer is not None and normalise(str(u.answer)) in failing:
                issues.append({"check": u.id, "title": u.title, "answer": u.answer})
            elif u.answer is None or (u.vote is not None and u.vote["status"] != CONFIDENT):
                unreadable.append(u.id)
        flagged = bool(issues)
        status = "flagged" if flagged else (NEEDS_REVIEW if unreadable else "clear")
        review = f" (needs review: {', '.join(unreadable)})" if unreadable else ""
        lines = [f"**{'FLAGGED' if flagged else 'Not flagged'}**{review}"]
        lines += [f"- {i['title']}: {i['answer']}" for i in issues]
        flagged_ids = {i["check"] for i in issues}
        lines += [f"- {u.title}: {u.answer if u.answer is not None else 'unreadable'}" for u in units
                  if u.id not in flagged_ids]
        return "\n".join(lines), {"flagged": flagged, "issues": issues, "checks": checks, "unclear": unreadable,
                                  "status": status}


def _entry(u: Unit) -> dict[str, Any]:
    entry: dict[str, Any] = {"title": u.title, "answer": u.answer}
    if u.vote is not None:
        entry.update(confidence=u.vote["confidence"], status=u.vote["status"], tally=u.vote["tally"])
    if u.failed:
        entry["error"] = "; ".join(p.error for p in u.members)
    return entry
