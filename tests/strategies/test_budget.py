"""The budget's ledger, alone and under the engine at concurrency 100 on virtual time: never over the budget,
every reservation replaced by the call's real cost, and the run stopped (not failed) where the budget ends."""

from __future__ import annotations

import asyncio
from dataclasses import replace
import random
from fractions import Fraction

import pytest

from fanout.frontends.state import RunState
from fanout.providers.base import GenerationRequest, Limits, Message, Prices, StatusError
from fanout.strategies import events as ev
from fanout.strategies.budget import Budget, worst_case_cost, worst_case_prompt_tokens
from fanout.strategies.engine import Engine, RunSpec
from fanout.strategies.recipe import from_data

from scripted import ScriptedProvider, Step, resolver
from vclock import run_virtual

PRICES = {"scripted-model": Prices(input=3.0, output=15.0)}


class Audited(Budget):
    """A ledger that checks itself after every reservation and settlement."""

    def __init__(self, limit: float) -> None:
        super().__init__(limit)
        self.peak = Fraction(0)
        self.settled: list[tuple[Fraction, float]] = []  # (reserved amount, real cost)

    def _check(self) -> None:
        assert self.reserved == sum(self.held.values(), Fraction(0))
        assert self.spent + self.reserved <= self.cap, "over the budget"
        self.peak = max(self.peak, self.spent + self.reserved)

    async def reserve(self, amount, what):
        held = await super().reserve(amount, what)
        self._check()
        return held

    def settle(self, reservation, cost):
        if reservation in self.held:
            self.settled.append((self.held[reservation], cost))
        super().settle(reservation, cost)
        self._check()


def many(n: int, kind: str = "concat"):
    return from_data({
        "name": "many", "strategy": "parallel", "prompt": "[{id}] task {title}",
        "defaults": {"max_tokens": 64},
        "branches": [{"id": f"b{i:03d}", "title": f"T{i}"} for i in range(n)],
        "aggregate": {"kind": kind, "prompt": "Combine them."},
    }, "many.toml")


def run(rec, provider, budget, *, limits=None):
    provider.keys = [b.id for b in rec.branches]
    spec = RunSpec(rec, {}, "parallel", resolver(provider, limits), session_id="20260101-000000-budget",
                   seed=1, budget=budget)
    events: list[ev.Event] = []

    async def go():
        async for e in Engine(spec).events():
            events.append(e)

    run_virtual(go())
    return RunState.from_events(events), events


def test_concurrency_100_never_goes_over_the_budget_and_accounts_exactly():
    rng = random.Random(5)
    latency = {f"b{i:03d}": rng.uniform(0.5, 3.0) for i in range(300)}
    p = ScriptedProvider(lambda key, n: Step(latency=latency.get(key, 1.0), tokens=rng.randint(1, 64)), concurrency=100)
    budget = Audited(0.12)
    state, events = run(many(300), p, budget, limits=Limits(concurrency=100, timeout=30, prices=PRICES))

    assert p.peak == 100  # the calls really ran a hundred at a time
    done = [b for b in state.branch_list() if b.status == "done"]
    not_run = [b for b in state.branch_list() if b.skipped]
    assert 100 < len(done) < 300 and len(done) + len(not_run) == 300
    assert all(b.error.startswith("not run: stopped by the budget of $0.12") for b in not_run)
    # Exact accounting: nothing left reserved, every call's reservation replaced by its real cost.
    assert budget.reserved == 0 and not budget.held
    assert budget.spent == sum((Fraction(b.metrics.cost) for b in done), Fraction(0)) <= Fraction(0.12)
    assert len(budget.settled) == len(done) == len(p.calls)
    assert all(Fraction(cost) <= reserved for reserved, cost in budget.settled)
    assert budget.peak <= budget.cap
    # The run stopped at the budget: it did not fail, and says what it spent and what did not run.
    assert state.status == "budget" and state.aggregate.status == "waiting"
    assert f"not run: {len(not_run)} branches and the aggregate" in state.done.error
    assert "fanout resume 20260101-000000-budget --budget USD" in state.done.error
    assert state.metrics.cost == pytest.approx(float(budget.spent))


def test_a_call_waits_for_calls_in_flight_before_it_is_refused():
    """Two calls in flight hold the budget; a third fits once they settle below their reservations."""
    async def go():
        budget = Budget(1.0)
        a = await budget.reserve(0.45, "a")
        b = await budget.reserve(0.45, "b")
        third = asyncio.create_task(budget.reserve(0.45, "c"))
        await asyncio.sleep(0)
        assert not third.done()  # 0.9 reserved: it waits, it is not refused
        budget.settle(a, 0.2)
        await asyncio.sleep(0)
        assert not third.done()  # 0.2 spent + 0.45 reserved + 0.45 > 1.0: still waiting on b
        budget.settle(b, 0.1)
        c = await third
        assert c is not None and budget.spent == Fraction(0.2) + Fraction(0.1) and budget.reserved == Fraction(0.45)
        budget.settle(c, 0.5)
        assert await budget.reserve(0.4, "d") is None  # 0.8 spent, nothing in flight: it never fits
        assert "stopped by the budget of $1" in budget.stopped and "$0.8 spent" in budget.stopped
        assert await budget.reserve(0.01, "e") is None  # stopped: nothing starts any more
        assert budget.refused == 2

    run_virtual(go())


def test_a_failed_attempt_costs_nothing_and_a_retry_reserves_again():
    p = ScriptedProvider(lambda key, n: Step(latency=1.0, error=StatusError("503 overloaded", 503) if n == 1 else None))
    budget = Audited(1.0)
    state, _ = run(many(1), p, budget, limits=Limits(concurrency=1, timeout=30, prices=PRICES, backoff_base=0.1))
    assert state.status == "ok"
    assert [cost for _, cost in budget.settled] == [0.0, state.branches["b000"].metrics.cost]
    assert budget.spent == Fraction(state.branches["b000"].metrics.cost)


def test_an_unknown_price_starts_nothing():
    p = ScriptedProvider(lambda key, n: Step())
    state, _ = run(many(3), p, Budget(1.0), limits=Limits(concurrency=3, timeout=30))
    assert not p.calls and state.status == "budget"
    assert "no price is known for scripted-model" in state.done.error


def test_the_worst_case_is_above_any_tokenizer_and_max_tokens():
    request = GenerationRequest("m", (Message("system", "s" * 10), Message("user", "héllo")), max_tokens=50)
    assert worst_case_prompt_tokens(request.messages) == 10 + 6 + 3 * 16  # bytes, not characters
    assert worst_case_cost(request, lambda model, i, o, n: Prices(2.0, 4.0).cost(i, o, n)) == pytest.approx(
        (64 * 2 + 50 * 4) / 1e6)
    # every web search it may make, at the search price; an unpriced search makes the worst case unknown
    searching = replace(request, web_search=5)
    assert worst_case_cost(searching, lambda model, i, o, n: Prices(2.0, 4.0, 10.0).cost(i, o, n)) == pytest.approx(
        (64 * 2 + 50 * 4) / 1e6 + 5 * 10.0 / 1000)
    assert worst_case_cost(searching, lambda model, i, o, n: Prices(2.0, 4.0).cost(i, o, n)) is None
