"""A blind, pairwise judgement of the strategies' final outputs: the prompts to ask and the scores the replies give.

Blind: the judge sees two answers under random letters, never a strategy's name. Pairwise in both orders: every
pair is asked once with each answer first, so a judge that favours the first (or the letter A) gives each side one
win and the bias cancels; how often the two orders agree says how far to trust the result. Pure: the calls are
made by `wiring.judge` as an ordinary fanout run (cached, recorded, its cost counted apart from the runs judged).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Mapping, Sequence

from fanout.frontends.report import fmt_cost
from fanout.strategies.prompting import Fence, Prior

CRITERIA = ("coverage", "specificity", "coherence", "contradictions")
EXPLAINED = {
    "coverage": "covers more of the task's angles and says what is missing",
    "specificity": "gives concrete findings: figures, names, dates, not generalities",
    "coherence": "reads as one organised, consistent answer",
    "contradictions": "flags where its sources disagree instead of smoothing it over",
}
LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ"  # no I, L or O: easy to misread
TIE = "tie"


@dataclass(frozen=True)
class Trial:
    id: str  # the judge run's branch id
    first: str  # the strategy whose answer is shown first
    second: str
    labels: tuple[str, str]  # the letters the judge sees for first and second

    def strategy(self, label: str) -> str | None:
        return {self.labels[0]: self.first, self.labels[1]: self.second}.get(label.upper())


def trials(strategies: Sequence[str], seed: int) -> list[Trial]:
    """Every pair in both orders, each with two random letters, asked in a random order."""
    rng = random.Random(seed)
    pairs = [(a, b) for x, y in combinations(strategies, 2) for a, b in ((x, y), (y, x))]
    rng.shuffle(pairs)
    return [Trial(f"t{i}", a, b, tuple(rng.sample(LETTERS, 2))) for i, (a, b) in enumerate(pairs, 1)]  # type: ignore[arg-type]


def prompt(trial: Trial, outputs: Mapping[str, str], task: str) -> str:
    """Instructions first, then the two answers fenced (model text is material, never instructions)."""
    a, b = trial.labels
    answers = [Prior(a, f"Answer {a}", outputs[trial.first]), Prior(b, f"Answer {b}", outputs[trial.second])]
    fence = Fence.around(answers)
    criteria = "\n".join(f"- {c}: which answer {EXPLAINED[c]}" for c in CRITERIA)
    reply = "\n".join(f"{c}: {a}, {b} or tie" for c in (*CRITERIA, "overall"))
    return "\n\n".join([
        f"Two answers to the same task follow, labelled {a} and {b}. Judge which is better on each criterion.",
        f"The task: {task}",
        criteria,
        f"Reply with exactly these five lines and nothing else:\n{reply}",
        fence.rule(),
        *(fence.block(p) for p in answers),
    ])


def read_reply(trial: Trial, text: str) -> dict[str, str | None]:
    """criterion -> the winning strategy, "tie", or None when the reply does not say (an unreadable line)."""
    out: dict[str, str | None] = {}
    for criterion in (*CRITERIA, "overall"):
        m = re.search(rf"^\W*{criterion}\W*[:=-]\s*\W*(?:answer\s+)?([A-Za-z]+)", text, re.IGNORECASE | re.MULTILINE)
        word = m.group(1) if m else ""
        out[criterion] = TIE if word.lower() == TIE else trial.strategy(word) if len(word) == 1 else None
    return out


@dataclass(frozen=True)
class Judgement:
    scores: dict[str, float]  # per strategy: wins (1) and ties (½) over its readable criterion verdicts
    by_criterion: dict[str, dict[str, float]]  # criterion -> strategy -> the same, on that criterion alone
    agreement: float | None  # the share of pairs whose two orders gave the same overall verdict
    first_wins: float | None  # the share of overall verdicts won by the answer shown first (position bias)
    best: str | None  # the best judged, None on a tie for the top or no readable verdict
    unreadable: int  # verdict lines the judge's replies did not give
    verdicts: dict[str, dict[str, str | None]] = field(default_factory=dict)  # trial id -> read_reply

    def as_dict(self) -> dict[str, Any]:
        return {
            "scores": self.scores, "by_criterion": self.by_criterion, "agreement": self.agreement,
            "first_wins": self.first_wins, "best_judged": self.best, "unreadable": self.unreadable,
            "verdicts": self.verdicts,
        }


def _points(verdict: str | None, strategy: str) -> float:
    return 0.5 if verdict == TIE else 1.0 if verdict == strategy else 0.0


def judgement(all_trials: Sequence[Trial], replies: Mapping[str, str]) -> Judgement:
    """The scores from each trial's reply (a trial with no reply, failed, counts as unreadable)."""
    verdicts = {t.id: read_reply(t, replies.get(t.id, "")) for t in all_trials}
    strategies = sorted({s for t in all_trials for s in (t.first, t.second)})
    by_criterion: dict[str, dict[str, float]] = {}
    points: dict[str, list[float]] = {s: [] for s in strategies}
    for criterion in CRITERIA:
        per: dict[str, list[float]] = {s: [] for s in strategies}
        for t in all_trials:
            v = verdicts[t.id][criterion]
            if v is not None:
                for s in (t.first, t.second):
                    per[s].append(_points(v, s))
                    points[s].append(_points(v, s))
        by_criterion[criterion] = {s: round(sum(p) / len(p), 4) for s, p in per.items() if p}
    scores = {s: round(sum(p) / len(p), 4) for s, p in points.items() if p}
    overall = {t.id: verdicts[t.id]["overall"] for t in all_trials}
    both = [(overall[x.id], overall[y.id]) for x in all_trials for y in all_trials
            if (x.first, x.second) == (y.second, y.first) and x.first < x.second]
    readable = [(u, v) for u, v in both if u is not None and v is not None]
    shown_first = [(t, overall[t.id]) for t in all_trials if overall[t.id] not in (None, TIE)]
    top = max(scores.values(), default=None)
    leaders = [s for s, v in scores.items() if v == top]
    return Judgement(
        scores=scores,
        by_criterion=by_criterion,
        agreement=round(sum(u == v for u, v in readable) / len(readable), 4) if readable else None,
        first_wins=round(sum(v == t.first for t, v in shown_first) / len(shown_first), 4) if shown_first else None,
        best=leaders[0] if len(leaders) == 1 else None,
        unreadable=sum(v is None for d in verdicts.values() for v in d.values()),
        verdicts=verdicts,
    )


def judge_text(d: Mapping[str, Any]) -> str:
    """A judgement as `fanout bench` prints it and the compare screen shows it; `d` is `JudgeRun.as_dict()`."""
    verdicts = [d["verdicts"][t["id"]] for t in d["trials"]]

    def figures(per: Mapping[str, float], criteria: Sequence[str]) -> str:
        if per:
            return " · ".join(f"{s} {v:.2f}" for s, v in per.items())
        lines = len(verdicts) * len(criteria)  # no score: every one of these verdict lines was unreadable
        return f"unreadable ({sum(v.get(c) is None for v in verdicts for c in criteria)} of {lines})"

    def share(v: float | None) -> str:
        return "-" if v is None else f"{v * 100:.0f} %"

    lines = [
        f"Judge: {d['provider']}/{d['model']}, {len(d['trials'])} blind trials (every pair in both orders, "
        f"letters shuffled), session {d['session_id']}",
        f"  scores: {figures(d['scores'], CRITERIA)}",
        *(f"  {c}: {figures(per, (c,))}" for c, per in d["by_criterion"].items()),
        f"  the two orders agreed on {share(d['agreement'])} of pairs; the answer shown first won "
        f"{share(d['first_wins'])} of verdicts; {d['unreadable']} verdict lines unreadable",
        f"  the judge's own cost, not in the table: {fmt_cost(d['cost'])}, {d['tokens']} tokens, {d['calls']} calls, "
        f"{d['cached']} cached",
    ]
    for t in d["trials"]:
        overall = d["verdicts"][t["id"]]["overall"]
        lines.append(f"  {t['id']}: {t['first']} ({t['labels'][0]}) vs {t['second']} ({t['labels'][1]}): "
                     f"overall {overall or 'unreadable'}")
    return "\n".join(lines)
