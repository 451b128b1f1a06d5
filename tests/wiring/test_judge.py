"""The judge: blind letters, every pair in both orders so a position bias cancels, scores and agreement, on a
scripted judge over HTTP (the loopback server answering as a judge would)."""

from __future__ import annotations

import re

from fanout.frontends.judge import CRITERIA, judgement, read_reply, trials
from fanout.wiring.judge import judge
from fanout.wiring.launch import RunOptions

OUTPUTS = {"sequential": "- a finding on costs", "parallel": "- a finding on qubits", "hybrid": "- MARKED finding"}


def blocks(prompt: str) -> dict[str, str]:
    """Letter -> the answer fenced under it, as the judge sees them."""
    return {m.group(1): m.group(2) for m in re.finditer(r"<<<report \w+ id=(\w) title=[^>]*>>>\n(.*?)\n<<<end", prompt, re.S)}


def reply(choice: str) -> str:
    return "\n".join(f"{c}: {choice}" for c in (*CRITERIA, "overall"))


def options(loopback) -> RunOptions:
    return RunOptions(base_url=f"{loopback.base_url}/v1", model="m")


async def test_a_judge_that_always_picks_the_first_answer_gives_every_strategy_half(loopback, tmp_path, monkeypatch):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path))
    loopback.responder = lambda req: reply(next(iter(blocks(req.prompt))))
    run = await judge(OUTPUTS, "research a topic", options(loopback))
    j = run.judgement
    assert len(loopback.requests) == 6  # three pairs, both orders
    assert j.scores == {"hybrid": 0.5, "parallel": 0.5, "sequential": 0.5} and j.best is None
    assert j.first_wins == 1.0 and j.agreement == 0.0 and j.unreadable == 0


async def test_a_judge_with_a_preference_finds_it_in_both_orders_and_is_cached(loopback, tmp_path, monkeypatch):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path))

    def prefers_marked(req) -> str:
        marked = [label for label, text in blocks(req.prompt).items() if "MARKED" in text]
        return reply(marked[0] if marked else "tie")

    loopback.responder = prefers_marked
    run = await judge(OUTPUTS, "research a topic", options(loopback))
    j = run.judgement
    assert j.scores == {"hybrid": 1.0, "parallel": 0.25, "sequential": 0.25} and j.best == "hybrid"
    assert j.agreement == 1.0 and j.by_criterion["coverage"]["hybrid"] == 1.0
    prompts = [r.prompt for r in loopback.requests]
    # Blind: no strategy is named; every ordered pair asked once; letters vary from trial to trial.
    assert not any(s in p for p in prompts for s in OUTPUTS)
    seen = {tuple(blocks(p).values()) for p in prompts}
    assert seen == {(OUTPUTS[a], OUTPUTS[b]) for a in OUTPUTS for b in OUTPUTS if a != b}
    assert len({tuple(blocks(p)) for p in prompts}) > 1
    assert run.as_dict()["calls"] == 6
    again = await judge(OUTPUTS, "research a topic", options(loopback))
    assert len(loopback.requests) == 6 and again.as_dict()["cached"] == 6  # the same outputs never judged twice
    assert again.judgement.scores == j.scores


def test_trials_are_every_pair_both_ways_with_two_letters_in_a_shuffled_order():
    ts = trials(["hybrid", "parallel", "sequential"], seed=1)
    assert sorted((t.first, t.second) for t in ts) == sorted(
        (a, b) for a in ("hybrid", "parallel", "sequential") for b in ("hybrid", "parallel", "sequential") if a != b)
    assert all(t.labels[0] != t.labels[1] for t in ts)
    orders = {tuple((t.first, t.second) for t in trials(["hybrid", "parallel", "sequential"], seed=s)) for s in range(6)}
    assert len(orders) > 1  # the order of the trials depends on the seed


def test_replies_are_read_leniently_and_unreadable_lines_are_counted():
    [t] = [t for t in trials(["a", "b"], seed=3) if t.first == "a"]
    x, y = t.labels
    text = f"**Coverage**: Answer {x}\nspecificity - {y}\ncoherence: TIE\noverall: {x}"
    v = read_reply(t, text)
    assert v == {"coverage": "a", "specificity": "b", "coherence": "tie", "contradictions": None, "overall": "a"}
    j = judgement([t], {t.id: text})
    assert j.unreadable == 1 and j.scores == {"a": round(1.5 / 3, 4), "b": round(1.5 / 3, 4)}


def test_a_judge_whose_verdicts_cannot_be_read_says_so_instead_of_printing_empty_scores():
    from fanout.frontends.judge import judge_text

    ts = trials(["hybrid", "parallel", "sequential"], seed=2)
    j = judgement(ts, {t.id: "I cannot decide between these." for t in ts})
    d = {**j.as_dict(), "provider": "local", "model": "smollm2", "session_id": "s", "cost": None, "tokens": 0,
         "calls": 6, "cached": 0,
         "trials": [{"id": t.id, "first": t.first, "second": t.second, "labels": list(t.labels)} for t in ts]}
    text = judge_text(d)
    assert f"  scores: unreadable ({len(ts) * len(CRITERIA)} of {len(ts) * len(CRITERIA)})" in text
    assert f"  coverage: unreadable ({len(ts)} of {len(ts)})" in text
    assert not re.search(r"^  \w+: $", text, re.MULTILINE)  # no label left with nothing after it
