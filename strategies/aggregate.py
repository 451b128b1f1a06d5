"""Combining the branches: the last step of every run.

The branches first become units: a voting branch's voters are one unit (with its vote), every other branch is
a unit of its own. The recipe's aggregate kind then combines the units:
- concat: in recipe order, a heading each.
- merge: one JSON object keyed by unit (parsed JSON, a vote's verdict, an answer, or the text).
- union: every finding of every branch, near-duplicates folded, each with the branches that found it.
- vote: the votes' verdicts (answer, confidence, tally, status).
- checks: each unit's answer against `fail_on`; the input is flagged when any check fails.
- synthesize: one LLM call over every unit, told to flag contradictions; when the units do not fit in one call
  (`max_input_chars`, or the provider's context window), they are first merged in groups (reduce.py).
- judge: one LLM call that picks the best unit and says why.
Failed branches are always named, to the aggregator model and in the result, never silently dropped.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from .answers import extract_findings, normalise
from .calls import Caller
from .events import AggregateDone, AggregateStarted, AggregateToken, BranchMetrics, Event
from .echoes import MarkerScrubber, result_flag
from .prompting import Fence, Prior, aggregate_messages
from .recipe import AGGREGATE_ID, Recipe
from .reduce import BudgetTooSmall, Reducer, input_budget, size
from .voting import CONFIDENT, NEEDS_REVIEW, NO_CONSENSUS, Ballot, union, vote


@dataclass
class Outcome:
    text: str = ""
    metrics: BranchMetrics | None = None
    error: str = ""
    # Reduce steps (partial merges before the last call): their metrics and what each waited for.
    steps: dict[str, BranchMetrics] = field(default_factory=dict)
    step_deps: dict[str, tuple[str, ...]] = field(default_factory=dict)


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
        lines = [f"- {f['text']} (found by {', '.join(f['found_by'])})" for f in v["findings"]]
        return "\n".join(lines) or "_no findings_"
    tally = ", ".join(f"{a} {w:g}" for a, w in v["tally"].items()) or "none"
    extra = "".join(
        f"; {name}: {', '.join(v[name])}" for name in ("abstained", "failed") if v.get(name)
    )
    answer = v["answer"] if v["answer"] is not None else "none"
    return f"**Voted answer: {answer}** ({v['status']}, confidence {v['confidence']:.0%}; tally: {tally}{extra})"


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


def _concat_units(units: list[Unit]) -> str:
    return "\n\n".join(f"## {u.title}\n\n{u.body()}" for u in units)


def _merge(units: list[Unit]) -> tuple[str, dict[str, Any]]:
    merged: dict[str, Any] = {}
    invalid: list[str] = []
    for u in units:
        p = u.members[0]
        if u.vote is not None:
            merged[u.id] = {k: u.vote.get(k) for k in ("answer", "confidence", "status", "tally")}
        elif p.error:
            merged[u.id] = {"error": p.error}
        elif "json" in p.data:
            merged[u.id] = p.data["json"]
        elif "json_error" in p.data:
            merged[u.id] = {"invalid_json": p.data.get("flagged") or p.data["json_error"], "text": p.text}
            invalid.append(u.id)
        elif "answer" in p.data:
            merged[u.id] = {"answer": p.data["answer"]}
        else:
            merged[u.id] = p.text.strip()
    result = {"merged": merged, "invalid": invalid, "status": NEEDS_REVIEW if invalid else CONFIDENT}
    return "```json\n" + json.dumps(merged, indent=2, ensure_ascii=False) + "\n```", result


def _union(units: list[Unit]) -> tuple[str, dict[str, Any]]:
    ballots = []
    for u in units:
        for p in u.members:
            ballots.append(Ballot(p.id, None, failed=bool(p.error), findings=tuple(extract_findings(p.text))))
    result = union(ballots)
    lines = [f"- {f['text']} (found by {', '.join(f['found_by'])})" for f in result["findings"]]
    return "\n".join(lines) or "_no findings_", result


def _checks(units: list[Unit], fail_on: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    failing = {normalise(f) for f in fail_on}
    checks: dict[str, Any] = {}
    issues = []
    unreadable = []
    for u in units:
        answer = u.answer
        entry: dict[str, Any] = {"title": u.title, "answer": answer}
        if u.vote is not None:
            entry.update(confidence=u.vote["confidence"], status=u.vote["status"], tally=u.vote["tally"])
        if u.failed:
            entry["error"] = "; ".join(p.error for p in u.members)
        checks[u.id] = entry
        if answer is not None and normalise(str(answer)) in failing:
            issues.append({"check": u.id, "title": u.title, "answer": answer})
        elif answer is None or (u.vote is not None and u.vote["status"] != CONFIDENT):
            unreadable.append(u.id)
    flagged = bool(issues)
    status = "flagged" if flagged else (NEEDS_REVIEW if unreadable else "clear")
    lines = [f"**{'FLAGGED' if flagged else 'Not flagged'}**" + (f" (needs review: {', '.join(unreadable)})" if unreadable else "")]
    lines += [f"- {i['title']}: {i['answer']}" for i in issues]
    lines += [f"- {u.title}: {u.answer if u.answer is not None else 'unreadable'}" for u in units
              if u.id not in {i['check'] for i in issues}]
    return "\n".join(lines), {"flagged": flagged, "issues": issues, "checks": checks, "unclear": unreadable,
                              "status": status}


def _votes(units: list[Unit]) -> tuple[str, dict[str, Any]]:
    voted = [u for u in units if u.vote is not None]
    votes = {u.id: u.vote for u in voted}
    text = "\n\n".join(f"## {u.title}\n\n{describe_vote(u.vote)}" for u in voted)  # type: ignore[arg-type]
    if len(voted) == 1:
        return describe_vote(voted[0].vote), dict(voted[0].vote)  # type: ignore[arg-type]
    order = [CONFIDENT, NEEDS_REVIEW, NO_CONSENSUS]
    worst = max((order.index(v["status"]) for v in votes.values() if v["status"] in order), default=0)
    return text, {"votes": votes, "status": order[worst]}


_WINNER = re.compile(r"winner\s*(?:is)?\s*[:#-]?\s*(?:candidate\s*)?(\d+)", re.IGNORECASE)


def _judge_result(text: str, candidates: list[Unit]) -> dict[str, Any]:
    m = _WINNER.search(text) or re.search(r"\b(\d+)\b", text)
    choice = int(m.group(1)) if m else 0
    if not 1 <= choice <= len(candidates):
        return {"winner": None, "status": NEEDS_REVIEW, "reason": text.strip()}
    winner = candidates[choice - 1]
    reason = text[m.end():].strip(" .:\n") if m else text.strip()  # type: ignore[union-attr]
    return {"winner": winner.id, "winner_title": winner.title, "choice": choice,
            "winner_text": winner.members[0].text, "reason": reason, "status": CONFIDENT}


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


async def aggregate(
    recipe: Recipe,
    values: dict[str, str],
    strategy: str,
    priors: list[Prior],
    caller: Caller,
    resolve: Callable,
    emit: Callable[[Event], None],
    clock: Callable[[], float],
) -> Outcome:
    agg = recipe.aggregate
    method = agg.kind
    failed = tuple(p.id for p in priors if p.error)
    emit(AggregateStarted(clock(), method, failed))
    units = build_units(recipe, priors)
    base = extras(recipe, units)
    local = {
        "concat": lambda: (_concat_units(units), {}),
        "merge": lambda: _merge(units),
        "union": lambda: _union(units),
        "vote": lambda: _votes(units),
        "checks": lambda: _checks(units, agg.fail_on),
    }
    if method in local:
        text, result = local[method]()
        emit(AggregateDone(clock(), method, text, failed, result={**base, **result}))
        return Outcome(text)
    candidates = [u for u in units if not u.failed]
    if not candidates:
        error = "every branch failed: nothing to aggregate"
        emit(AggregateDone(clock(), method, "", failed, result=base, error=error))
        return Outcome(error=error)
    unit_priors = [Prior(u.id, u.title, u.body(), "; ".join(p.error for p in u.members) if u.failed else "")
                   for u in units]
    if method == "judge":
        unit_priors = [Prior(u.id, f"Candidate {i + 1}: {u.title}", u.body()) for i, u in enumerate(candidates)]
    target = resolve(agg.settings)
    reduced = None
    budget = input_budget(agg.max_input_chars, target) if method == "synthesize" else None
    if budget is not None:
        down = [p for p in unit_priors if p.error]

        def final_size(items: list[Prior]) -> int:
            return size(aggregate_messages(recipe, values, strategy, down + items))

        reducer = Reducer(recipe, values, caller, target, emit, clock,
                          members={u.id: tuple(p.id for p in u.members) for u in units})
        try:
            reduced = await reducer.run([p for p in unit_priors if not p.error], budget, final_size)
        except BudgetTooSmall as err:
            emit(AggregateDone(clock(), method, "", failed, result=base, error=str(err)))
            return Outcome(error=str(err))
        unit_priors = down + reduced.failed + reduced.priors
        failed = failed + tuple(p.id for p in reduced.failed)
        base["reduce"] = {"levels": reduced.levels, "calls": len(reduced.steps), "max_input_chars": budget}
    messages = aggregate_messages(recipe, values, strategy, unit_priors, judge=method == "judge")
    # The model may echo its prompt: the fence markers never reach the result, and an echo is flagged.
    scrubber = MarkerScrubber(Fence.around(unit_priors).nonce)

    def on_token(text: str) -> None:
        if text := scrubber.feed(text):
            emit(AggregateToken(clock(), text))

    result = await caller.call(AGGREGATE_ID, target, target.request(messages), on_token)
    if rest := scrubber.flush():
        emit(AggregateToken(clock(), rest))
    text = scrubber.scrub(result.text)
    verdict = _judge_result(text, candidates) if method == "judge" and result.ok else {}
    flag = result_flag(text, result.text, "\n\n".join(m.content for m in messages)) if result.ok else ""
    if flag:
        verdict["flagged"] = flag
    emit(AggregateDone(clock(), method, text, failed, result={**base, **verdict}, metrics=result.metrics,
                       error=result.error))
    outcome = Outcome(text, result.metrics, result.error)
    if reduced is not None:
        outcome.steps, outcome.step_deps = reduced.steps, reduced.deps
    return outcome
